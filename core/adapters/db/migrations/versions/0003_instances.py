"""A heartbeat row per running `procurebot run` process, for `procurebot status`.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

from core.adapters.db.schema import UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "instances",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column(
            "role",
            sa.Text,
            sa.CheckConstraint("role IN ('leader', 'standby')"),
            nullable=False,
        ),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("host", sa.Text, nullable=False),
        sa.Column("version", sa.Text, nullable=False),
        sa.Column("started_at", UtcDateTime, nullable=False),
        sa.Column("beat_at", UtcDateTime, nullable=False),
        sa.Column("stopped_at", UtcDateTime),
    )
    op.create_index("instances_by_beat", "instances", ["beat_at"])


def downgrade() -> None:
    op.drop_index("instances_by_beat", "instances")
    op.drop_table("instances")
