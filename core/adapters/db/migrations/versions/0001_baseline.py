"""The schema as it was before Alembic (SQLite user_version 4).

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

from core.adapters.db.schema import RowId, UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _material(**kwargs: object) -> sa.Column[str]:
    return sa.Column(
        "material",
        sa.Text,
        sa.ForeignKey("materials.key", ondelete="CASCADE"),
        **kwargs,  # type: ignore[arg-type]
    )


def _check(column: str, values: str) -> sa.CheckConstraint:
    return sa.CheckConstraint(f"{column} IN ({values})")


def upgrade() -> None:
    op.create_table(
        "materials",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("unit", sa.Text, nullable=False),
        sa.Column("currency", sa.Text, nullable=False),
        sa.Column("aliases", sa.Text, nullable=False, server_default=""),
    )
    op.create_table(
        "prices",
        sa.Column("id", RowId, primary_key=True),
        _material(nullable=False),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.Column("price", sa.Float, sa.CheckConstraint("price > 0"), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.UniqueConstraint("material", "at", "source"),
    )
    op.create_index("prices_by_material_time", "prices", ["material", "at"])
    op.create_table(
        "inventory",
        _material(primary_key=True),
        sa.Column("on_hand", sa.Float, sa.CheckConstraint("on_hand >= 0"), nullable=False),
        sa.Column("unit", sa.Text, nullable=False),
        sa.Column(
            "daily_consumption",
            sa.Float,
            sa.CheckConstraint("daily_consumption >= 0"),
            nullable=False,
        ),
        sa.Column("minimum", sa.Float, sa.CheckConstraint("minimum >= 0"), nullable=False),
        sa.Column(
            "lead_time_days", sa.Integer, sa.CheckConstraint("lead_time_days >= 0"), nullable=False
        ),
        sa.Column("updated_at", UtcDateTime, nullable=False),
    )
    op.create_table(
        "consumption",
        _material(primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("quantity", sa.Float, sa.CheckConstraint("quantity >= 0"), nullable=False),
    )
    op.create_table(
        "vendor_quotes",
        sa.Column("id", RowId, primary_key=True),
        sa.Column("vendor", sa.Text, nullable=False),
        _material(nullable=False),
        sa.Column("price", sa.Float, sa.CheckConstraint("price > 0"), nullable=False),
        sa.Column("currency", sa.Text, nullable=False),
        sa.Column("rating", sa.Float, sa.CheckConstraint("rating BETWEEN 0 AND 5"), nullable=False),
        sa.Column(
            "delivery_days", sa.Integer, sa.CheckConstraint("delivery_days >= 0"), nullable=False
        ),
        sa.Column("min_order_qty", sa.Float),
        sa.Column("valid_until", sa.Date),
        sa.UniqueConstraint("vendor", "material"),
    )
    op.create_table(
        "alerts",
        sa.Column("id", RowId, primary_key=True),
        sa.Column(
            "type",
            sa.Text,
            _check("type", "'PRICE_DROP', 'PRICE_INCREASE', 'LOW_INVENTORY', 'BUY_SIGNAL'"),
            nullable=False,
        ),
        sa.Column(
            "severity",
            sa.Text,
            _check("severity", "'CRITICAL', 'WARNING', 'INFO'"),
            nullable=False,
        ),
        _material(),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("dedup_key", sa.Text, nullable=False),
        sa.Column("magnitude", sa.Float),
        sa.Column("facts", sa.Text),
    )
    op.create_index("alerts_by_time", "alerts", ["created_at"])
    op.create_index("alerts_by_condition", "alerts", ["dedup_key", "created_at"])
    op.create_table(
        "users",
        sa.Column("user_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("role", sa.Text, _check("role", "'admin', 'buyer'"), nullable=False),
        sa.Column("name", sa.Text),
        sa.Column("added_by", sa.BigInteger),
        sa.Column("added_at", UtcDateTime, nullable=False),
    )
    op.create_table(
        "subscriptions",
        sa.Column(
            "channel", sa.Text, _check("channel", "'telegram', 'whatsapp'"), primary_key=True
        ),
        sa.Column("address", sa.Text, primary_key=True),
        sa.Column("added_by", sa.BigInteger),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("disabled_reason", sa.Text),
    )
    op.create_table(
        "deliveries",
        sa.Column("id", RowId, primary_key=True),
        sa.Column(
            "alert_id", RowId, sa.ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("channel", sa.Text, _check("channel", "'telegram', 'whatsapp'"), nullable=False),
        sa.Column("address", sa.Text, nullable=False),
        sa.Column(
            "status",
            sa.Text,
            _check("status", "'pending', 'sending', 'sent', 'failed'"),
            nullable=False,
            server_default="pending",
        ),
        sa.Column(
            "attempts",
            sa.Integer,
            sa.CheckConstraint("attempts >= 0"),
            nullable=False,
            server_default="0",
        ),
        sa.Column("next_attempt_at", UtcDateTime, nullable=False),
        sa.Column("claimed_by", sa.Text),
        sa.Column("sent_at", UtcDateTime),
        sa.Column("detail", sa.Text, nullable=False, server_default=""),
        sa.UniqueConstraint("alert_id", "channel", "address"),
    )
    pending, sending = sa.text("status = 'pending'"), sa.text("status = 'sending'")
    op.create_index(
        "deliveries_due",
        "deliveries",
        ["channel", "next_attempt_at", "id"],
        sqlite_where=pending,
        postgresql_where=pending,
    )
    op.create_index(
        "deliveries_in_flight",
        "deliveries",
        ["claimed_by"],
        sqlite_where=sending,
        postgresql_where=sending,
    )
    op.create_index("deliveries_by_address", "deliveries", ["channel", "address", "status"])
    op.create_table(
        "job_state",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
    )
    op.create_table(
        "invites",
        sa.Column("code_hash", sa.Text, primary_key=True),
        sa.Column("role", sa.Text, _check("role", "'admin', 'buyer'"), nullable=False),
        sa.Column("created_by", sa.BigInteger),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("expires_at", UtcDateTime, nullable=False),
        sa.Column("used_by", sa.BigInteger),
        sa.Column("used_at", UtcDateTime),
    )
    op.create_table(
        "daily_closes",
        _material(primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.Column("price", sa.Float, nullable=False),
    )
    for name in ("model_runs", "forecasts"):
        per_run: list[sa.Column[object]] = (
            [
                sa.Column("run", sa.Text, nullable=False),
                sa.Column("made_at", UtcDateTime, nullable=False),
            ]
            if name == "model_runs"
            else [
                sa.Column("made_at", UtcDateTime, nullable=False),
                sa.Column("backfilled", sa.Boolean, nullable=False),
                sa.Column("price", sa.Float, sa.CheckConstraint("price > 0"), nullable=False),
                sa.Column("lower", sa.Float, nullable=False),
                sa.Column("upper", sa.Float, nullable=False),
                sa.Column("forecast", sa.Text, nullable=False),
            ]
        )
        op.create_table(
            name,
            _material(primary_key=True),
            sa.Column("horizon", sa.Integer, sa.CheckConstraint("horizon > 0"), primary_key=True),
            sa.Column("origin", sa.Date, primary_key=True),
            *per_run,
        )


def downgrade() -> None:
    for table in (
        "forecasts",
        "model_runs",
        "daily_closes",
        "invites",
        "job_state",
        "deliveries",
        "subscriptions",
        "users",
        "alerts",
        "vendor_quotes",
        "consumption",
        "inventory",
        "prices",
        "materials",
    ):
        op.drop_table(table)
