"""The database's tables, in one MetaData, for SQLite and PostgreSQL alike.

Times are UTC. SQLite keeps them as fixed-width text (`2026-11-26T09:30:00Z`, so text order is
time order, as every database before the move to SQLAlchemy stored them); PostgreSQL as
`timestamptz`. Both hold whole seconds. Dates are ISO text on SQLite and `date` on PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

_TEXT_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime, stored in UTC to the second."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.String(20))
        return dialect.type_descriptor(sa.DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("times stored must be timezone-aware")
        value = value.astimezone(UTC).replace(microsecond=0)
        return value.strftime(_TEXT_FORMAT) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            # fromisoformat reads the fixed-width text (`Z` included) 20 times faster than
            # strptime, which shows when thousands of rows are read at once.
            return datetime.fromisoformat(value).astimezone(UTC)
        assert isinstance(value, datetime)
        return value.astimezone(UTC)


# Row ids: 64-bit on PostgreSQL; on SQLite an INTEGER PRIMARY KEY (the rowid) is 64-bit already.
RowId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# Telegram user ids go past 2**31.
UserId = sa.BigInteger

ALERT_TYPES = (
    "PRICE_DROP",
    "PRICE_INCREASE",
    "LOW_INVENTORY",
    "BUY_SIGNAL",
    "PRICE_LEVEL",
    "DIGEST",
    "HELD_ALERTS",
    "PO_OVERDUE",
    "PURCHASE",
)
SEVERITIES = ("CRITICAL", "WARNING", "INFO")
ROLES = ("viewer", "buyer", "approver", "admin")
CHANNELS = ("telegram", "whatsapp")
DELIVERY_STATES = ("pending", "sending", "sent", "failed", "held")
WATCH_KINDS = ("above", "below", "move")
DIRECTIONS = ("up", "down", "either")
MOVE_KINDS = ("receive", "use", "count")
SOURCES = ("telegram", "console", "import")
PENDING_KINDS = ("move", "import", "order", "reason", "cancel")
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
PENDING_STATES = ("pending", "done", "cancelled")


def _one_of(column: str, values: tuple[str, ...]) -> sa.CheckConstraint:
    listed = ", ".join(f"'{v}'" for v in values)
    return sa.CheckConstraint(f"{column} IN ({listed})")


def _material(**kwargs: Any) -> sa.Column[str]:
    return sa.Column(
        "material", sa.Text, sa.ForeignKey("materials.key", ondelete="CASCADE"), **kwargs
    )


metadata = sa.MetaData()

materials = sa.Table(
    "materials",
    metadata,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("unit", sa.Text, nullable=False),
    sa.Column("currency", sa.Text, nullable=False),
    # a JSON list of other names
    sa.Column("aliases", sa.Text, nullable=False, server_default=""),
    # the order materials are listed in (the order they were added)
    sa.Column("position", sa.Integer, nullable=False, server_default="0"),
)

prices = sa.Table(
    "prices",
    metadata,
    sa.Column("id", RowId, primary_key=True),
    _material(nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("price", sa.Float, sa.CheckConstraint("price > 0"), nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.UniqueConstraint("material", "at", "source"),
    sa.Index("prices_by_material_time", "material", "at"),
)

# Each day's last price, kept by the price repository as prices come and go, so a retrain
# reads one row a day instead of grouping every poll ever stored.
daily_closes = sa.Table(
    "daily_closes",
    metadata,
    _material(primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("price", sa.Float, nullable=False),
)

# A material's configured figures. Its stock on hand is the stock ledger's; `on_hand` here is
# what it was when the ledger began (kept for old databases, not read any more).
inventory = sa.Table(
    "inventory",
    metadata,
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

# Files imported: the digest of their checked rows makes an import of the same rows a no-op.
imports = sa.Table(
    "imports",
    metadata,
    sa.Column("id", RowId, primary_key=True),
    sa.Column("digest", sa.Text, nullable=False, unique=True),
    sa.Column("file_name", sa.Text, nullable=False),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("rows", sa.Integer, nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("user_id", UserId),
    sa.Column("user_name", sa.Text),
    sa.Column("chat_id", UserId),
    sa.Column("source", sa.Text, _one_of("source", SOURCES), nullable=False),
)

# The stock ledger, append-only (core/domain/stock.py): quantities in the material's unit; a
# count's difference from the stock expected; an undo names the move it takes back.
stock_moves = sa.Table(
    "stock_moves",
    metadata,
    sa.Column("id", RowId, primary_key=True),
    _material(nullable=False),
    sa.Column("kind", sa.Text, _one_of("kind", MOVE_KINDS), nullable=False),
    sa.Column("quantity", sa.Float, sa.CheckConstraint("quantity >= 0"), nullable=False),
    sa.Column("difference", sa.Float),
    sa.Column("at", UtcDateTime, nullable=False),
    # the UTC day of `at`, for daily use on either backend
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("user_id", UserId),
    sa.Column("user_name", sa.Text),
    sa.Column("chat_id", UserId),
    sa.Column("source", sa.Text, _one_of("source", SOURCES), nullable=False),
    sa.Column("reference", sa.Text),
    sa.Column("note", sa.Text),
    sa.Column("undoes", RowId, sa.ForeignKey("stock_moves.id"), unique=True),
    sa.Column("import_id", RowId, sa.ForeignKey("imports.id")),
    sa.Index("stock_moves_by_material_time", "material", "at", "id"),
    sa.Index("stock_moves_by_day", "material", "kind", "day"),
)

# Vendor quotes, with their history: each vendor's newest quote for a material is its quote.
quotes = sa.Table(
    "quotes",
    metadata,
    sa.Column("id", RowId, primary_key=True),
    sa.Column("vendor", sa.Text, nullable=False),
    # the vendor's name folded, so that "ACME" and "Acme" are one vendor
    sa.Column("vendor_key", sa.Text, nullable=False),
    _material(nullable=False),
    sa.Column("price", sa.Float, sa.CheckConstraint("price > 0"), nullable=False),
    sa.Column("currency", sa.Text, nullable=False),
    sa.Column("rating", sa.Float, sa.CheckConstraint("rating BETWEEN 0 AND 5"), nullable=False),
    sa.Column(
        "delivery_days", sa.Integer, sa.CheckConstraint("delivery_days >= 0"), nullable=False
    ),
    sa.Column("min_order_qty", sa.Float),
    sa.Column("pack_size", sa.Float),
    sa.Column("valid_until", sa.Date),
    # price breaks as JSON: [[quantity, price], ...]
    sa.Column("breaks", sa.Text, nullable=False, server_default="[]"),
    sa.Column("quoted_at", UtcDateTime, nullable=False),
    sa.Column("user_id", UserId),
    sa.Column("user_name", sa.Text),
    sa.Column("source", sa.Text, _one_of("source", SOURCES), nullable=False),
    sa.Column("import_id", RowId, sa.ForeignKey("imports.id")),
    sa.Index("quotes_by_vendor", "material", "vendor_key", "quoted_at", "id"),
)

alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("id", RowId, primary_key=True),
    sa.Column("type", sa.Text, _one_of("type", ALERT_TYPES), nullable=False),
    sa.Column("severity", sa.Text, _one_of("severity", SEVERITIES), nullable=False),
    _material(),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("dedup_key", sa.Text, nullable=False),
    sa.Column("magnitude", sa.Float),
    # the structured parts, as JSON
    sa.Column("facts", sa.Text),
    # the one Telegram chat the message is for (a watch's alert, a digest); NULL: every subscriber
    sa.Column("chat", sa.Text),
    # the buttons it comes with, as JSON: [[label, command], ...]
    sa.Column("actions", sa.Text),
    sa.Index("alerts_by_time", "created_at"),
    sa.Index("alerts_by_condition", "dedup_key", "created_at"),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("user_id", UserId, primary_key=True, autoincrement=False),
    sa.Column("role", sa.Text, _one_of("role", ROLES), nullable=False),
    sa.Column("name", sa.Text),
    sa.Column("added_by", UserId),
    sa.Column("added_at", UtcDateTime, nullable=False),
)

invites = sa.Table(
    "invites",
    metadata,
    # only a hash of each code is stored
    sa.Column("code_hash", sa.Text, primary_key=True),
    sa.Column("role", sa.Text, _one_of("role", ROLES), nullable=False),
    sa.Column("created_by", UserId),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
    sa.Column("used_by", UserId),
    sa.Column("used_at", UtcDateTime),
)

subscriptions = sa.Table(
    "subscriptions",
    metadata,
    sa.Column("channel", sa.Text, _one_of("channel", CHANNELS), primary_key=True),
    sa.Column("address", sa.Text, primary_key=True),
    sa.Column("added_by", UserId),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("disabled_reason", sa.Text),
)

deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("id", RowId, primary_key=True),
    sa.Column("alert_id", RowId, sa.ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),
    sa.Column("channel", sa.Text, _one_of("channel", CHANNELS), nullable=False),
    sa.Column("address", sa.Text, nullable=False),
    sa.Column(
        "status",
        sa.Text,
        _one_of("status", DELIVERY_STATES),
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
    # when the delivery was claimed: a claim older than the lease is taken back
    sa.Column("claimed_at", UtcDateTime),
    # a held delivery released with others in one message: that message's delivery, whose
    # outcome it shares (no foreign key: the carrier is written after the rows it carries)
    sa.Column("carried_by", RowId),
    sa.UniqueConstraint("alert_id", "channel", "address"),
    sa.Index(
        "deliveries_due",
        "channel",
        "next_attempt_at",
        "id",
        sqlite_where=sa.text("status = 'pending'"),
        postgresql_where=sa.text("status = 'pending'"),
    ),
    sa.Index(
        "deliveries_in_flight",
        "claimed_by",
        sqlite_where=sa.text("status = 'sending'"),
        postgresql_where=sa.text("status = 'sending'"),
    ),
    sa.Index("deliveries_by_address", "channel", "address", "status"),
    sa.Index(
        "deliveries_held",
        "next_attempt_at",
        sqlite_where=sa.text("status = 'held'"),
        postgresql_where=sa.text("status = 'held'"),
    ),
)

job_state = sa.Table(
    "job_state",
    metadata,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

model_runs = sa.Table(
    "model_runs",
    metadata,
    _material(primary_key=True),
    sa.Column("horizon", sa.Integer, sa.CheckConstraint("horizon > 0"), primary_key=True),
    sa.Column("origin", sa.Date, primary_key=True),
    # the run, as JSON
    sa.Column("run", sa.Text, nullable=False),
    sa.Column("made_at", UtcDateTime, nullable=False),
)

# Actions waiting for someone's answer (core/domain/pending.py); the payload is JSON.
pending_actions = sa.Table(
    "pending_actions",
    metadata,
    sa.Column("id", RowId, primary_key=True),
    sa.Column("kind", sa.Text, _one_of("kind", PENDING_KINDS), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    # what goes with a large payload (a file's checked rows, as JSON lines)
    sa.Column("data", sa.Text),
    sa.Column("user_id", UserId),
    sa.Column("chat_id", UserId),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
    sa.Column(
        "state",
        sa.Text,
        _one_of("state", PENDING_STATES),
        nullable=False,
        server_default="pending",
    ),
)

# Telegram updates whose changes were booked, so that one handed out again books nothing.
handled_updates = sa.Table(
    "handled_updates",
    metadata,
    sa.Column("update_id", UserId, primary_key=True, autoincrement=False),
    sa.Column("callback_query_id", sa.Text, unique=True),
    sa.Column("handled_at", UtcDateTime, nullable=False),
    # what was answered, as JSON, to answer the same again
    sa.Column("reply", sa.Text),
    sa.Index("handled_updates_by_time", "handled_at"),
)

forecasts = sa.Table(
    "forecasts",
    metadata,
    _material(primary_key=True),
    sa.Column("horizon", sa.Integer, sa.CheckConstraint("horizon > 0"), primary_key=True),
    sa.Column("origin", sa.Date, primary_key=True),
    sa.Column("made_at", UtcDateTime, nullable=False),
    sa.Column("backfilled", sa.Boolean, nullable=False),
    sa.Column("price", sa.Float, sa.CheckConstraint("price > 0"), nullable=False),
    sa.Column("lower", sa.Float, nullable=False),
    sa.Column("upper", sa.Float, nullable=False),
    # the whole forecast, as JSON
    sa.Column("forecast", sa.Text, nullable=False),
)

# One row per `procurebot run` process, written every half minute while it runs (its
# heartbeat), so that `procurebot status` can tell from the database alone whether the bot runs,
# which instance leads and which stand by.
INSTANCE_ROLES = ("leader", "standby")

instances = sa.Table(
    "instances",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("role", sa.Text, _one_of("role", INSTANCE_ROLES), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("host", sa.Text, nullable=False),
    sa.Column("version", sa.Text, nullable=False),
    sa.Column("started_at", UtcDateTime, nullable=False),
    sa.Column("beat_at", UtcDateTime, nullable=False),
    # set when the process stopped cleanly
    sa.Column("stopped_at", UtcDateTime),
    sa.Index("instances_by_beat", "beat_at"),
)

# A chat's own price watches (core/domain/watches.py). Removed ones stay (removed_at) so that a
# removal can be undone; at most one live watch per chat looks for the same thing.
watches = sa.Table(
    "watches",
    metadata,
    sa.Column("id", RowId, primary_key=True),
    sa.Column("chat", sa.Text, nullable=False),
    _material(nullable=False),
    sa.Column("kind", sa.Text, _one_of("kind", WATCH_KINDS), nullable=False),
    # the level (above, below) or the percentage (move)
    sa.Column("threshold", sa.Float, sa.CheckConstraint("threshold > 0"), nullable=False),
    sa.Column("direction", sa.Text, _one_of("direction", DIRECTIONS), nullable=False),
    sa.Column("days", sa.Integer, sa.CheckConstraint("days >= 1"), nullable=False),
    sa.Column("once", sa.Boolean, nullable=False),
    sa.Column("expires_at", UtcDateTime),
    sa.Column("armed", sa.Boolean, nullable=False),
    sa.Column("triggered_at", UtcDateTime),
    sa.Column("triggered_price", sa.Float),
    sa.Column("triggered_change", sa.Float),
    sa.Column("created_by", UserId, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("removed_by", UserId),
    sa.Column("removed_at", UtcDateTime),
    sa.Index("watches_by_chat", "chat"),
    sa.Index(
        "watches_one_condition",
        "chat",
        "material",
        "kind",
        "threshold",
        "direction",
        "days",
        unique=True,
        sqlite_where=sa.text("removed_at IS NULL"),
        postgresql_where=sa.text("removed_at IS NULL"),
    ),
)

# A chat's daily digest: the local time and zone it asked for, and when it is due next (UTC).
digests = sa.Table(
    "digests",
    metadata,
    sa.Column("chat", sa.Text, primary_key=True),
    sa.Column("at", sa.Text, nullable=False),  # HH:MM on the chat's clock
    sa.Column("zone", sa.Text, nullable=False),  # an IANA time zone
    sa.Column("next_at", UtcDateTime, nullable=False),
    sa.Column("set_by", UserId),
    sa.Column("set_at", UtcDateTime, nullable=False),
    sa.Index("digests_due", "next_at"),
)

# One row per digest booked: a chat gets one digest per local day, however many processes try.
digest_days = sa.Table(
    "digest_days",
    metadata,
    sa.Column("chat", sa.Text, primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("booked_at", UtcDateTime, nullable=False),
    sa.Column("alert_id", RowId, sa.ForeignKey("alerts.id", ondelete="SET NULL")),
)

quiet_hours = sa.Table(
    "quiet_hours",
    metadata,
    sa.Column("chat", sa.Text, primary_key=True),
    sa.Column("starts", sa.Text, nullable=False),  # HH:MM on the chat's clock
    sa.Column("ends", sa.Text, nullable=False),
    sa.Column("zone", sa.Text, nullable=False),
    sa.Column("set_by", UserId),
    sa.Column("set_at", UtcDateTime, nullable=False),
)

# Purchase requests and the purchase orders they become (core/domain/purchasing.py): who asked,
# who decided and who closed them, with the market price and the advice of the moment an order
# was placed, which /report compares it with. Quantities in the material's unit, amounts in its
# currency.
purchases = sa.Table(
    "purchases",
    metadata,
    sa.Column("id", RowId, primary_key=True),
    _material(nullable=False),
    sa.Column("vendor", sa.Text, nullable=False),
    sa.Column("quantity", sa.Float, sa.CheckConstraint("quantity > 0"), nullable=False),
    sa.Column("unit", sa.Text, nullable=False),
    sa.Column("unit_price", sa.Float, sa.CheckConstraint("unit_price > 0"), nullable=False),
    sa.Column("currency", sa.Text, nullable=False),
    sa.Column(
        "delivery_days", sa.Integer, sa.CheckConstraint("delivery_days >= 0"), nullable=False
    ),
    sa.Column("state", sa.Text, _one_of("state", PURCHASE_STATES), nullable=False),
    sa.Column("requested_by", UserId),
    sa.Column("requested_by_name", sa.Text, nullable=False),
    sa.Column("requested_at", UtcDateTime, nullable=False),
    # the chat it was requested in, where the requester is told the outcome
    sa.Column("chat_id", UserId),
    sa.Column("approved_by", UserId),
    sa.Column("approved_by_name", sa.Text),
    sa.Column("approved_at", UtcDateTime),
    sa.Column("po_number", sa.Text, unique=True),
    sa.Column("ordered_at", UtcDateTime),
    sa.Column("expected", sa.Date),
    sa.Column("market_price", sa.Float),
    sa.Column("advice", sa.Text, _one_of("advice", ADVICE)),
    sa.Column("received", sa.Float, sa.CheckConstraint("received >= 0"), nullable=False),
    sa.Column("received_at", UtcDateTime),
    # who rejected or cancelled it, when and why
    sa.Column("closed_by", UserId),
    sa.Column("closed_by_name", sa.Text),
    sa.Column("closed_at", UtcDateTime),
    sa.Column("reason", sa.Text),
    sa.Column("reminded_at", UtcDateTime),
    sa.Index("purchases_by_state", "state", "material"),
    sa.Index("purchases_by_order_time", "ordered_at"),
)

# The last PO number given out in each year: taken and counted on in the transaction that
# places the order, so that two approvals at once never get the same number.
po_sequences = sa.Table(
    "po_sequences",
    metadata,
    sa.Column("year", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("last", sa.Integer, sa.CheckConstraint("last > 0"), nullable=False),
)
