"""The stock ledger, and each material's configured figures with its stock from the ledger."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import asdict, fields
from datetime import UTC, date
from typing import Any

import sqlalchemy as sa

from core.adapters.db.engine import Database
from core.adapters.db.schema import inventory, stock_moves
from core.domain.actors import Source
from core.domain.stock import MoveKind, NewMove, StockMove
from core.models import InventoryItem

# Rows per INSERT of an import: small enough that one batch never holds up the event loop for
# long (the driver's thread holds the GIL while it binds each row).
BATCH_ROWS = 200

_undo = stock_moves.alias("undo")  # joined: the move that took a move back
_reversal = stock_moves.alias("reversal")
# Neither taken back nor taking back: what on hand, daily use and exports are made of.
EFFECTIVE = sa.and_(
    stock_moves.c.undoes.is_(None),
    ~sa.exists().where(_reversal.c.undoes == stock_moves.c.id),
)
_SIGNED = sa.case(
    (stock_moves.c.kind == MoveKind.RECEIVE.value, stock_moves.c.quantity),
    (stock_moves.c.kind == MoveKind.USE.value, -stock_moves.c.quantity),
    else_=0.0,
)
_MOVE = (
    *(c for c in stock_moves.c if c.name not in ("id", "day")),
    stock_moves.c.id,
    _undo.c.id.label("undone_by"),
)


def _move(row: sa.Row[Any]) -> StockMove:
    values = dict(row._mapping)
    values["kind"] = MoveKind(values["kind"])
    values["source"] = Source(values["source"])
    return StockMove(**values)


def _select_moves() -> sa.Select[Any]:
    return sa.select(*_MOVE).select_from(
        stock_moves.outerjoin(_undo, _undo.c.undoes == stock_moves.c.id)
    )


def _row(move: NewMove) -> dict[str, Any]:
    """The move as a row (attribute by attribute: dataclasses.asdict copies every value, which
    costs more than the insert itself on a large import)."""
    return {
        "material": move.material,
        "kind": move.kind.value,
        "quantity": move.quantity,
        "difference": move.difference,
        "at": move.at,
        "day": move.at.astimezone(UTC).date(),
        "user_id": move.user_id,
        "user_name": move.user_name,
        "chat_id": move.chat_id,
        "source": move.source.value,
        "reference": move.reference,
        "note": move.note,
        "undoes": move.undoes,
        "import_id": move.import_id,
    }


class SqlStockMoveRepo:
    """Implements StockMoveRepo: appends moves, never changes one."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, move: NewMove) -> StockMove | None:
        statement = self._db.insert(stock_moves).values(_row(move)).returning(stock_moves.c.id)
        if move.undoes is not None:
            statement = statement.on_conflict_do_nothing(index_elements=["undoes"])
        async with self._db.transaction() as tx:
            new_id = (await tx.execute(statement)).scalar_one_or_none()
        if new_id is None:
            return None
        return StockMove(**{f.name: getattr(move, f.name) for f in fields(move)}, id=new_id)

    async def add_many(self, moves: Sequence[NewMove]) -> int:
        async with self._db.transaction() as tx:
            for start in range(0, len(moves), BATCH_ROWS):
                rows = [_row(m) for m in moves[start : start + BATCH_ROWS]]
                await tx.execute(sa.insert(stock_moves), rows)
                await asyncio.sleep(0)  # let the chats be answered between batches
        return len(moves)

    async def forget(self, reference: str) -> None:
        """Deletes the imported moves with this reference: only for reloading the demo data
        (`procurebot seed --force`); the ledger is otherwise never changed."""
        async with self._db.transaction() as tx:
            doomed = sa.select(stock_moves.c.id).where(
                stock_moves.c.source == Source.IMPORT.value,
                stock_moves.c.reference == reference,
            )
            await tx.execute(sa.delete(stock_moves).where(stock_moves.c.undoes.in_(doomed)))
            await tx.execute(
                sa.delete(stock_moves).where(
                    stock_moves.c.source == Source.IMPORT.value,
                    stock_moves.c.reference == reference,
                )
            )

    async def get(self, move_id: int) -> StockMove | None:
        row = await self._db.fetchone(_select_moves().where(stock_moves.c.id == move_id))
        return None if row is None else _move(row)

    async def recent(self, limit: int, material: str | None = None) -> list[StockMove]:
        statement = _select_moves()
        if material is not None:
            statement = statement.where(stock_moves.c.material == material)
        rows = await self._db.fetchall(
            statement.order_by(stock_moves.c.at.desc(), stock_moves.c.id.desc()).limit(limit)
        )
        return [_move(r) for r in rows]

    async def effective(self, material: str | None = None) -> list[StockMove]:
        statement = _select_moves().where(EFFECTIVE)
        if material is not None:
            statement = statement.where(stock_moves.c.material == material)
        rows = await self._db.fetchall(statement.order_by(stock_moves.c.at, stock_moves.c.id))
        return [_move(r) for r in rows]


class SqlInventoryRepo:
    """Implements InventoryRepo: the configured figures, with on hand and daily use from the
    ledger."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def all(self) -> list[InventoryItem]:
        return await self._items()

    async def item(self, material: str) -> InventoryItem | None:
        items = await self._items(material)
        return items[0] if items else None

    async def _items(self, material: str | None = None) -> list[InventoryItem]:
        statement = sa.select(
            inventory.c.material,
            inventory.c.unit,
            inventory.c.daily_consumption,
            inventory.c.minimum,
            inventory.c.lead_time_days,
            inventory.c.updated_at,
        ).order_by(inventory.c.material)
        if material is not None:
            statement = statement.where(inventory.c.material == material)
        async with self._db.reading() as connection:
            rows = (await connection.execute(statement)).all()
            return [
                InventoryItem(on_hand=await _on_hand(connection, row.material), **row._mapping)
                for row in rows
            ]

    async def upsert(self, item: InventoryItem) -> None:
        values = asdict(item)
        async with self._db.transaction() as tx:
            # `on_hand` is the ledger's: kept as it is, or what the ledger began with (0)
            statement = self._db.insert(inventory).values({**values, "on_hand": 0.0})
            await tx.execute(
                statement.on_conflict_do_update(
                    index_elements=["material"],
                    set_={
                        k: statement.excluded[k] for k in values if k not in ("material", "on_hand")
                    },
                )
            )

    async def consumption(self, material: str, since: date) -> list[tuple[date, float]]:
        rows = await self._db.fetchall(
            sa.select(stock_moves.c.day, sa.func.sum(stock_moves.c.quantity).label("used"))
            .where(
                stock_moves.c.material == material,
                stock_moves.c.kind == MoveKind.USE.value,
                stock_moves.c.day >= since,
                EFFECTIVE,
            )
            .group_by(stock_moves.c.day)
            .order_by(stock_moves.c.day)
        )
        return [(r.day, float(r.used)) for r in rows]


async def _on_hand(connection: Any, material: str) -> float:
    """The last effective count of the material plus the receipts and minus the uses after it."""
    of_material = sa.and_(stock_moves.c.material == material, EFFECTIVE)
    count = (
        await connection.execute(
            sa.select(stock_moves.c.at, stock_moves.c.id, stock_moves.c.quantity)
            .where(of_material, stock_moves.c.kind == MoveKind.COUNT.value)
            .order_by(stock_moves.c.at.desc(), stock_moves.c.id.desc())
            .limit(1)
        )
    ).first()
    after = of_material
    if count is not None:
        after = sa.and_(
            of_material,
            sa.or_(
                stock_moves.c.at > count.at,
                sa.and_(stock_moves.c.at == count.at, stock_moves.c.id > count.id),
            ),
        )
    change = await connection.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(_SIGNED), 0.0)).where(after)
    )
    return (count.quantity if count is not None else 0.0) + float(change or 0.0)
