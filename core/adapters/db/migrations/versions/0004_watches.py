"""Alerts each chat sets for itself: price watches, daily digests and quiet hours. The outbox
carries messages for one chat (`alerts.chat`) with their own buttons (`alerts.actions`), of
the new types PRICE_LEVEL, DIGEST and HELD_ALERTS; a delivery may be `held` until a chat's
quiet hours end, and then `carried_by` the one message that releases them together.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

from core.adapters.db.schema import RowId, UtcDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

OLD_TYPES = ("PRICE_DROP", "PRICE_INCREASE", "LOW_INVENTORY", "BUY_SIGNAL")
TYPES = (*OLD_TYPES, "PRICE_LEVEL", "DIGEST", "HELD_ALERTS")
OLD_STATES = ("pending", "sending", "sent", "failed")
STATES = (*OLD_STATES, "held")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _material(**kwargs: object) -> sa.Column[str]:
    return sa.Column(
        "material",
        sa.Text,
        sa.ForeignKey("materials.key", ondelete="CASCADE"),
        **kwargs,  # type: ignore[arg-type]
    )


def _widen(types: tuple[str, ...], states: tuple[str, ...]) -> None:
    """The CHECKs on alerts.type and deliveries.status. SQLite cannot change a CHECK: batch mode
    copies the table, and the CHECKs without a name (all of them) must be given again."""
    if op.get_bind().dialect.name == "sqlite":
        alert_checks = (
            sa.CheckConstraint(_in("type", types)),
            sa.CheckConstraint(_in("severity", ("CRITICAL", "WARNING", "INFO"))),
        )
        with op.batch_alter_table("alerts", recreate="always", table_args=alert_checks):
            pass
        delivery_checks = (
            sa.CheckConstraint(_in("channel", ("telegram", "whatsapp"))),
            sa.CheckConstraint(_in("status", states)),
            sa.CheckConstraint("attempts >= 0"),
        )
        with op.batch_alter_table("deliveries", recreate="always", table_args=delivery_checks):
            pass
        problems = op.get_bind().exec_driver_sql("PRAGMA foreign_key_check").all()
        if problems:
            raise RuntimeError(f"rows without their parent after copying tables: {problems}")
        return
    # PostgreSQL named the CHECKs after their table and column.
    op.drop_constraint("alerts_type_check", "alerts", type_="check")
    op.create_check_constraint("alerts_type_check", "alerts", _in("type", types))
    op.drop_constraint("deliveries_status_check", "deliveries", type_="check")
    op.create_check_constraint("deliveries_status_check", "deliveries", _in("status", states))


def upgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("chat", sa.Text))
        batch.add_column(sa.Column("actions", sa.Text))
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("carried_by", RowId))
    _widen(TYPES, STATES)
    op.create_index(
        "deliveries_held",
        "deliveries",
        ["next_attempt_at"],
        sqlite_where=sa.text("status = 'held'"),
        postgresql_where=sa.text("status = 'held'"),
    )
    op.create_table(
        "watches",
        sa.Column("id", RowId, primary_key=True),
        sa.Column("chat", sa.Text, nullable=False),
        _material(nullable=False),
        sa.Column(
            "kind",
            sa.Text,
            sa.CheckConstraint(_in("kind", ("above", "below", "move"))),
            nullable=False,
        ),
        sa.Column("threshold", sa.Float, sa.CheckConstraint("threshold > 0"), nullable=False),
        sa.Column(
            "direction",
            sa.Text,
            sa.CheckConstraint(_in("direction", ("up", "down", "either"))),
            nullable=False,
        ),
        sa.Column("days", sa.Integer, sa.CheckConstraint("days >= 1"), nullable=False),
        sa.Column("once", sa.Boolean, nullable=False),
        sa.Column("expires_at", UtcDateTime),
        sa.Column("armed", sa.Boolean, nullable=False),
        sa.Column("triggered_at", UtcDateTime),
        sa.Column("triggered_price", sa.Float),
        sa.Column("triggered_change", sa.Float),
        sa.Column("created_by", sa.BigInteger, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("removed_by", sa.BigInteger),
        sa.Column("removed_at", UtcDateTime),
    )
    op.create_index("watches_by_chat", "watches", ["chat"])
    op.create_index(
        "watches_one_condition",
        "watches",
        ["chat", "material", "kind", "threshold", "direction", "days"],
        unique=True,
        sqlite_where=sa.text("removed_at IS NULL"),
        postgresql_where=sa.text("removed_at IS NULL"),
    )
    op.create_table(
        "digests",
        sa.Column("chat", sa.Text, primary_key=True),
        sa.Column("at", sa.Text, nullable=False),
        sa.Column("zone", sa.Text, nullable=False),
        sa.Column("next_at", UtcDateTime, nullable=False),
        sa.Column("set_by", sa.BigInteger),
        sa.Column("set_at", UtcDateTime, nullable=False),
    )
    op.create_index("digests_due", "digests", ["next_at"])
    op.create_table(
        "digest_days",
        sa.Column("chat", sa.Text, primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("booked_at", UtcDateTime, nullable=False),
        sa.Column("alert_id", RowId, sa.ForeignKey("alerts.id", ondelete="SET NULL")),
    )
    op.create_table(
        "quiet_hours",
        sa.Column("chat", sa.Text, primary_key=True),
        sa.Column("starts", sa.Text, nullable=False),
        sa.Column("ends", sa.Text, nullable=False),
        sa.Column("zone", sa.Text, nullable=False),
        sa.Column("set_by", sa.BigInteger),
        sa.Column("set_at", UtcDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("quiet_hours")
    op.drop_table("digest_days")
    op.drop_table("digests")
    op.drop_table("watches")
    op.drop_index("deliveries_held", "deliveries")
    alerts = sa.table("alerts", sa.column("type"))
    op.execute(sa.delete(alerts).where(alerts.c.type.not_in(OLD_TYPES)))
    op.execute("UPDATE deliveries SET status = 'pending' WHERE status = 'held'")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("carried_by")
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("actions")
        batch.drop_column("chat")
    _widen(OLD_TYPES, OLD_STATES)
