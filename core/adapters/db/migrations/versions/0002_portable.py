"""Portable statements instead of SQLite's own: the price repository keeps daily closes (no
triggers), materials keep their order in a column (no rowid), and delivery claims carry the
time they were made (a lease).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

from core.adapters.db.schema import UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # Files from before Alembic kept daily closes with triggers.
        op.execute("DROP TRIGGER IF EXISTS daily_close_on_insert")
        op.execute("DROP TRIGGER IF EXISTS daily_close_on_delete")
    with op.batch_alter_table("materials") as batch:
        batch.add_column(sa.Column("position", sa.Integer, nullable=False, server_default="0"))
    if op.get_bind().dialect.name == "sqlite":
        op.execute("UPDATE materials SET position = rowid")  # the order they were added in
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("claimed_at", UtcDateTime))


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("claimed_at")
    with op.batch_alter_table("materials") as batch:
        batch.drop_column("position")
