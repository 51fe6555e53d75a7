"""The stock ledger and what buyers record: stock moves (with an opening balance per material
from the stock on hand, and the recorded consumption as uses), quotes with their history,
imports, actions waiting for an answer, Telegram updates handled; and the roles viewer and
approver.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

import json
from datetime import UTC, date, datetime, time

import sqlalchemy as sa
from alembic import op

from core.adapters.db.schema import RowId, UtcDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

OLD_ROLES = "'admin', 'buyer'"
NEW_ROLES = "'viewer', 'buyer', 'approver', 'admin'"
SOURCES = "'telegram', 'console', 'import'"


def _material() -> sa.Column[str]:
    return sa.Column(
        "material", sa.Text, sa.ForeignKey("materials.key", ondelete="CASCADE"), nullable=False
    )


def _check(column: str, values: str) -> sa.CheckConstraint:
    return sa.CheckConstraint(f"{column} IN ({values})")


def upgrade() -> None:
    op.create_table(
        "imports",
        sa.Column("id", RowId, primary_key=True),
        sa.Column("digest", sa.Text, nullable=False, unique=True),
        sa.Column("file_name", sa.Text, nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.Column("user_id", sa.BigInteger),
        sa.Column("user_name", sa.Text),
        sa.Column("chat_id", sa.BigInteger),
        sa.Column("source", sa.Text, _check("source", SOURCES), nullable=False),
    )
    op.create_table(
        "stock_moves",
        sa.Column("id", RowId, primary_key=True),
        _material(),
        sa.Column("kind", sa.Text, _check("kind", "'receive', 'use', 'count'"), nullable=False),
        sa.Column("quantity", sa.Float, sa.CheckConstraint("quantity >= 0"), nullable=False),
        sa.Column("difference", sa.Float),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("user_id", sa.BigInteger),
        sa.Column("user_name", sa.Text),
        sa.Column("chat_id", sa.BigInteger),
        sa.Column("source", sa.Text, _check("source", SOURCES), nullable=False),
        sa.Column("reference", sa.Text),
        sa.Column("note", sa.Text),
        sa.Column("undoes", RowId, sa.ForeignKey("stock_moves.id"), unique=True),
        sa.Column("import_id", RowId, sa.ForeignKey("imports.id")),
    )
    op.create_index("stock_moves_by_material_time", "stock_moves", ["material", "at", "id"])
    op.create_index("stock_moves_by_day", "stock_moves", ["material", "kind", "day"])
    op.create_table(
        "quotes",
        sa.Column("id", RowId, primary_key=True),
        sa.Column("vendor", sa.Text, nullable=False),
        sa.Column("vendor_key", sa.Text, nullable=False),
        _material(),
        sa.Column("price", sa.Float, sa.CheckConstraint("price > 0"), nullable=False),
        sa.Column("currency", sa.Text, nullable=False),
        sa.Column("rating", sa.Float, sa.CheckConstraint("rating BETWEEN 0 AND 5"), nullable=False),
        sa.Column(
            "delivery_days", sa.Integer, sa.CheckConstraint("delivery_days >= 0"), nullable=False
        ),
        sa.Column("min_order_qty", sa.Float),
        sa.Column("pack_size", sa.Float),
        sa.Column("valid_until", sa.Date),
        sa.Column("breaks", sa.Text, nullable=False, server_default="[]"),
        sa.Column("quoted_at", UtcDateTime, nullable=False),
        sa.Column("user_id", sa.BigInteger),
        sa.Column("user_name", sa.Text),
        sa.Column("source", sa.Text, _check("source", SOURCES), nullable=False),
        sa.Column("import_id", RowId, sa.ForeignKey("imports.id")),
    )
    op.create_index("quotes_by_vendor", "quotes", ["material", "vendor_key", "quoted_at", "id"])
    op.create_table(
        "pending_actions",
        sa.Column("id", RowId, primary_key=True),
        sa.Column("kind", sa.Text, _check("kind", "'move', 'import'"), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("data", sa.Text),
        sa.Column("user_id", sa.BigInteger),
        sa.Column("chat_id", sa.BigInteger),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("expires_at", UtcDateTime, nullable=False),
        sa.Column(
            "state",
            sa.Text,
            _check("state", "'pending', 'done', 'cancelled'"),
            nullable=False,
            server_default="pending",
        ),
    )
    op.create_table(
        "handled_updates",
        sa.Column("update_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("callback_query_id", sa.Text, unique=True),
        sa.Column("handled_at", UtcDateTime, nullable=False),
        sa.Column("reply", sa.Text),
    )
    op.create_index("handled_updates_by_time", "handled_updates", ["handled_at"])
    _move_data_into_the_ledger(datetime.now(UTC).replace(microsecond=0))
    op.drop_table("vendor_quotes")
    op.drop_table("consumption")
    for table in ("users", "invites"):
        _widen_roles(table)


def _move_data_into_the_ledger(now: datetime) -> None:
    """Quotes keep their values (recorded now); each day's recorded consumption becomes a use
    on that day, and each material's stock on hand an opening count now, after them."""
    bind = op.get_bind()
    old_quotes = sa.table(
        "vendor_quotes",
        *(sa.column(c) for c in ("vendor", "material", "price", "currency", "rating")),
        sa.column("delivery_days"),
        sa.column("min_order_qty"),
        sa.column("valid_until", sa.Date),
    )
    quotes = sa.table(
        "quotes",
        *(sa.column(c) for c in ("vendor", "vendor_key", "material", "price", "currency")),
        *(sa.column(c) for c in ("rating", "delivery_days", "min_order_qty", "breaks", "source")),
        sa.column("valid_until", sa.Date),
        sa.column("quoted_at", UtcDateTime),
    )
    rows = [
        {
            **row._asdict(),
            "vendor_key": " ".join(row.vendor.split()).casefold(),
            "breaks": json.dumps([]),
            "quoted_at": now,
            "source": "import",
        }
        for row in bind.execute(sa.select(old_quotes))
    ]
    if rows:
        bind.execute(sa.insert(quotes), rows)

    moves = sa.table(
        "stock_moves",
        *(sa.column(c) for c in ("material", "kind", "quantity", "difference", "source", "note")),
        sa.column("at", UtcDateTime),
        sa.column("day", sa.Date),
    )
    consumption = sa.table(
        "consumption", sa.column("material"), sa.column("day", sa.Date), sa.column("quantity")
    )
    uses = [
        {
            "material": row.material,
            "kind": "use",
            "quantity": row.quantity,
            "difference": None,
            "source": "import",
            "note": "daily consumption recorded before the stock ledger",
            "at": datetime.combine(_day(row.day), time(0, 0), tzinfo=UTC),
            "day": _day(row.day),
        }
        for row in bind.execute(
            sa.select(consumption).where(consumption.c.quantity > 0).order_by("day", "material")
        )
    ]
    if uses:
        bind.execute(sa.insert(moves), uses)
    inventory = sa.table("inventory", sa.column("material"), sa.column("on_hand"))
    openings = [
        {
            "material": row.material,
            "kind": "count",
            "quantity": row.on_hand,
            "difference": None,
            "source": "import",
            "note": "opening balance: the stock on hand when the ledger began",
            "at": now,
            "day": now.date(),
        }
        for row in bind.execute(sa.select(inventory).order_by("material"))
    ]
    if openings:
        bind.execute(sa.insert(moves), openings)


def _day(value: object) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _widen_roles(table: str) -> None:
    """The role CHECK of `table` takes the new roles."""
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        names = bind.execute(
            sa.text(
                "SELECT conname FROM pg_constraint WHERE conrelid = CAST(:t AS regclass) "
                "AND contype = 'c' AND pg_get_constraintdef(oid) LIKE '%role%'"
            ),
            {"t": table},
        ).scalars()
        for name in list(names):
            op.drop_constraint(name, table, type_="check")
        op.create_check_constraint(f"{table}_role_check", table, f"role IN ({NEW_ROLES})")
        return
    with op.batch_alter_table(table, recreate="always", copy_from=_table(table, NEW_ROLES)):
        pass


def _table(name: str, roles: str) -> sa.Table:
    """users or invites as they are defined, with `roles` allowed."""
    metadata = sa.MetaData()
    role = sa.Column("role", sa.Text, _check("role", roles), nullable=False)
    if name == "users":
        return sa.Table(
            "users",
            metadata,
            sa.Column("user_id", sa.BigInteger, primary_key=True, autoincrement=False),
            role,
            sa.Column("name", sa.Text),
            sa.Column("added_by", sa.BigInteger),
            sa.Column("added_at", UtcDateTime, nullable=False),
        )
    return sa.Table(
        "invites",
        metadata,
        sa.Column("code_hash", sa.Text, primary_key=True),
        role,
        sa.Column("created_by", sa.BigInteger),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("expires_at", UtcDateTime, nullable=False),
        sa.Column("used_by", sa.BigInteger),
        sa.Column("used_at", UtcDateTime),
    )


def downgrade() -> None:
    """Not supported: the ledger's history has no place in 0004's tables."""
    raise NotImplementedError(
        "0005 cannot be downgraded: restore the backup taken before the upgrade instead."
    )
