"""Purchasing: purchase requests and the orders they become (`purchases`), the PO numbers given
out per year (`po_sequences`), two message types in the outbox (PO_OVERDUE, an alert; PURCHASE,
a request to decide on or its outcome, for one chat) and three kinds of pending action (`order`:
a suggested order waiting for its Request button; `reason`: a rejection waiting for its reason;
`cancel`: an order to be cancelled, once confirmed).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

from core.adapters.db.schema import RowId, UtcDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

OLD_TYPES = (
    "PRICE_DROP",
    "PRICE_INCREASE",
    "LOW_INVENTORY",
    "BUY_SIGNAL",
    "PRICE_LEVEL",
    "DIGEST",
    "HELD_ALERTS",
)
TYPES = (*OLD_TYPES, "PO_OVERDUE", "PURCHASE")
OLD_KINDS = ("move", "import")
KINDS = (*OLD_KINDS, "order", "reason", "cancel")
PENDING_STATES = ("pending", "done", "cancelled")
PURCHASE_STATES = (
    "requested",
    "approved",
    "ordered",
    "partially_received",
    "received",
    "rejected",
    "cancelled",
)
ADVICE = ("BUY NOW", "WAIT", "MONITOR")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _widen(types: tuple[str, ...], kinds: tuple[str, ...]) -> None:
    """The CHECKs on alerts.type and pending_actions.kind. SQLite cannot change a CHECK: batch
    mode copies the table, and the CHECKs without a name (all of them) must be given again."""
    if op.get_bind().dialect.name == "sqlite":
        alert_checks = (
            sa.CheckConstraint(_in("type", types)),
            sa.CheckConstraint(_in("severity", ("CRITICAL", "WARNING", "INFO"))),
        )
        with op.batch_alter_table("alerts", recreate="always", table_args=alert_checks):
            pass
        pending_checks = (
            sa.CheckConstraint(_in("kind", kinds)),
            sa.CheckConstraint(_in("state", PENDING_STATES)),
        )
        with op.batch_alter_table("pending_actions", recreate="always", table_args=pending_checks):
            pass
        problems = op.get_bind().exec_driver_sql("PRAGMA foreign_key_check").all()
        if problems:
            raise RuntimeError(f"rows without their parent after copying tables: {problems}")
        return
    # PostgreSQL named the CHECKs after their table and column.
    op.drop_constraint("alerts_type_check", "alerts", type_="check")
    op.create_check_constraint("alerts_type_check", "alerts", _in("type", types))
    op.drop_constraint("pending_actions_kind_check", "pending_actions", type_="check")
    op.create_check_constraint("pending_actions_kind_check", "pending_actions", _in("kind", kinds))


def upgrade() -> None:
    _widen(TYPES, KINDS)
    op.create_table(
        "purchases",
        sa.Column("id", RowId, primary_key=True),
        sa.Column(
            "material",
            sa.Text,
            sa.ForeignKey("materials.key", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("vendor", sa.Text, nullable=False),
        sa.Column("quantity", sa.Float, sa.CheckConstraint("quantity > 0"), nullable=False),
        sa.Column("unit", sa.Text, nullable=False),
        sa.Column("unit_price", sa.Float, sa.CheckConstraint("unit_price > 0"), nullable=False),
        sa.Column("currency", sa.Text, nullable=False),
        sa.Column(
            "delivery_days", sa.Integer, sa.CheckConstraint("delivery_days >= 0"), nullable=False
        ),
        sa.Column(
            "state", sa.Text, sa.CheckConstraint(_in("state", PURCHASE_STATES)), nullable=False
        ),
        sa.Column("requested_by", sa.BigInteger),
        sa.Column("requested_by_name", sa.Text, nullable=False),
        sa.Column("requested_at", UtcDateTime, nullable=False),
        sa.Column("chat_id", sa.BigInteger),
        sa.Column("approved_by", sa.BigInteger),
        sa.Column("approved_by_name", sa.Text),
        sa.Column("approved_at", UtcDateTime),
        sa.Column("po_number", sa.Text, unique=True),
        sa.Column("ordered_at", UtcDateTime),
        sa.Column("expected", sa.Date),
        sa.Column("market_price", sa.Float),
        sa.Column("advice", sa.Text, sa.CheckConstraint(_in("advice", ADVICE))),
        sa.Column("received", sa.Float, sa.CheckConstraint("received >= 0"), nullable=False),
        sa.Column("received_at", UtcDateTime),
        sa.Column("closed_by", sa.BigInteger),
        sa.Column("closed_by_name", sa.Text),
        sa.Column("closed_at", UtcDateTime),
        sa.Column("reason", sa.Text),
        sa.Column("reminded_at", UtcDateTime),
    )
    op.create_index("purchases_by_state", "purchases", ["state", "material"])
    op.create_index("purchases_by_order_time", "purchases", ["ordered_at"])
    op.create_table(
        "po_sequences",
        sa.Column("year", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("last", sa.Integer, sa.CheckConstraint("last > 0"), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("po_sequences")
    op.drop_table("purchases")
    alerts = sa.table("alerts", sa.column("type"))
    op.execute(sa.delete(alerts).where(alerts.c.type.not_in(OLD_TYPES)))
    pending = sa.table("pending_actions", sa.column("kind"))
    op.execute(sa.delete(pending).where(pending.c.kind.not_in(OLD_KINDS)))
    _widen(OLD_TYPES, OLD_KINDS)
