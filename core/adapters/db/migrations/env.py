"""Alembic's environment: always run from core.adapters.db.migrate, on the connection it hands
over in the config's attributes."""

from alembic import context

from core.adapters.db.schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    transaction_per_migration=True,
    render_as_batch=True,  # SQLite changes tables by copying them
)
with context.begin_transaction():
    context.run_migrations()
