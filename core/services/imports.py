"""Files in and out: a CSV or XLSX file is read and every row checked in a worker process,
shown as a preview kept as a pending action, and imported all or nothing as one unit of work;
the same rows imported again change nothing. The export is everything as an XLSX file that
imports again unchanged."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ParamSpec, TypeVar

from core.access import Permission, require
from core.domain.actors import Actor, Source
from core.domain.imports import (
    IMPORT_SOURCE,
    LAYOUT,
    Cell,
    ImportRecord,
    MaterialRow,
    PlanFacts,
    Skipped,
    TableKind,
    describe,
)
from core.domain.pending import PendingAction, PendingKind, PendingState
from core.domain.stock import NewMove, StockMove
from core.errors import UserError
from core.inventory import InventoryService
from core.materials import MaterialCatalog
from core.models import Alert, PricePoint, VendorQuote
from core.ports import Clock, Spreadsheets, UnitOfWork
from core.services.import_work import Changes, Inspected, changes, inspect, move_rows, price_rows
from core.services.materials import Figures, MaterialService
from core.services.pending import answerable
from core.services.stock import StockAlerts

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 20 * 1024 * 1024  # what a Telegram bot may download
PREVIEW_LIFETIME = timedelta(hours=1)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Rows stored per step: the chats are answered between steps.
STORE_BATCH = 200

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class Preview:
    """A file checked: what it holds (and the pending import to run), or its problems, or
    the import of the same rows before."""

    file_name: str
    summary: str = ""
    problems: tuple[str, ...] = ()
    action_id: int | None = None
    imported_before: ImportRecord | None = None


@dataclass(frozen=True)
class Prepared:
    """A checked file with what it would add (None when it has problems or was imported
    before, as `imported_before` says)."""

    checked: Inspected
    changes: Changes | None
    imported_before: ImportRecord | None


@dataclass(frozen=True)
class PreparedRun:
    action_id: int
    file_name: str
    summary: str
    checked: Inspected
    changes: Changes


@dataclass(frozen=True)
class Imported:
    record: ImportRecord
    skipped: Skipped
    alerts: tuple[Alert, ...] = ()


class ImportService:
    """`off_loop` runs the heavy steps (core/services/import_work.py): in a worker process in
    the bot, in a thread by default."""

    def __init__(
        self,
        catalog: MaterialCatalog,
        unit_of_work: Callable[[], UnitOfWork],
        clock: Clock,
        files: Spreadsheets,
        materials: MaterialService,
        inventory: InventoryService,
        alerts: StockAlerts | None = None,
        off_loop: Callable[..., Awaitable[Any]] = asyncio.to_thread,
    ) -> None:
        self._catalog = catalog
        self._uow = unit_of_work
        self._clock = clock
        self._files = files
        self._materials = materials
        self._inventory = inventory
        self._alerts = alerts
        self._off_loop = off_loop

    async def _run(self, work: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        result: R = await self._off_loop(work, *args, **kwargs)
        return result

    async def check(self, file_name: str, data: bytes) -> Inspected:
        """Reads the file and checks every row, off the event loop; raises UserError for a
        file too large or unreadable."""
        if len(data) > MAX_FILE_BYTES:
            raise UserError(
                f"{file_name} is {len(data) / 1024 / 1024:.0f} MB: files up to 20 MB can be "
                "imported; split it into smaller ones."
            )
        materials = list(self._catalog)
        return await self._run(inspect, self._files, file_name, data, materials, self._clock.now())

    async def prepare(self, checked: Inspected) -> Prepared:
        """What the checked rows would add to what is stored, and whether the same rows were
        imported before: reads only, and the heavy part off the event loop, so that no write
        waits for it."""
        uow = self._uow()  # reads only: no transaction (and no write lock) needed
        if checked.problems:
            return Prepared(checked, None, None)
        before = await uow.imports.find(checked.digest)
        if before is not None:
            return Prepared(checked, None, before)
        return Prepared(checked, await self._changes(uow, checked), None)

    async def keep(self, actor: Actor, file_name: str, prepared: Prepared) -> Preview:
        """The preview of a prepared file, kept as a pending import that `run` imports."""
        require(actor.role, Permission.RECORD, "Importing a file")
        checked, found = prepared.checked, prepared.changes
        if checked.problems:
            return Preview(file_name, problems=checked.problems)
        if prepared.imported_before is not None or found is None:
            return Preview(file_name, imported_before=prepared.imported_before)
        summary = describe(file_name, checked.facts, self._catalog.keys, found.skipped)
        now = self._clock.now()
        async with self._uow() as uow:
            action = await uow.pending.add(
                PendingAction(
                    PendingKind.IMPORT,
                    {
                        "file_name": file_name,
                        "digest": checked.digest,
                        "summary": summary,
                        "facts": checked.facts.to_json(),
                    },
                    actor.user_id,
                    actor.chat_id,
                    now,
                    now + PREVIEW_LIFETIME,
                    data=checked.text,
                )
            )
        return Preview(file_name, summary, action_id=action.id)

    async def preview(
        self, actor: Actor, file_name: str, checked: Inspected, keep: bool = True
    ) -> Preview:
        """What importing the checked file would store, kept (with `keep`) as a pending
        import that `run` imports; or the file's problems, with their lines."""
        require(actor.role, Permission.RECORD, "Importing a file")
        prepared = await self.prepare(checked)
        if keep or checked.problems or prepared.changes is None:
            return await self.keep(actor, file_name, prepared)
        return Preview(
            file_name,
            describe(file_name, checked.facts, self._catalog.keys, prepared.changes.skipped),
        )

    async def prepare_run(self, actor: Actor, action_id: int) -> PreparedRun:
        """The pending import `action_id`, if `actor` may run it now, with what it adds to what
        is stored (worked out before the import's transaction, so that writes wait only while
        its rows are stored)."""
        require(actor.role, Permission.RECORD, "Importing a file")
        uow = self._uow()  # reads only
        action = await answerable(
            uow.pending, actor, action_id, PendingKind.IMPORT, self._clock.now()
        )
        payload = action.payload
        facts = PlanFacts.from_json(payload["facts"])
        checked = Inspected((), payload["digest"], action.data or "", facts)
        return PreparedRun(
            action_id,
            payload["file_name"],
            payload["summary"],
            checked,
            await self._changes(uow, checked),
        )

    async def finish_run(self, actor: Actor, prepared: PreparedRun) -> Imported:
        """Imports a prepared pending import in one unit of work: once, and only if it is
        still waiting."""
        async with self._uow() as uow:
            await answerable(
                uow.pending, actor, prepared.action_id, PendingKind.IMPORT, self._clock.now()
            )
            if not await uow.pending.settle(
                prepared.action_id, PendingState.DONE, self._clock.now()
            ):
                raise UserError("That file has been answered already.")
            return await self._store(
                uow, actor, prepared.file_name, prepared.checked, prepared.summary, prepared.changes
            )

    async def run(self, actor: Actor, action_id: int) -> Imported:
        """Imports a previewed file: its owner or an admin may, once, within the hour."""
        return await self.finish_run(actor, await self.prepare_run(actor, action_id))

    async def import_file(
        self, actor: Actor, file_name: str, checked: Inspected
    ) -> Imported | Preview:
        """Imports a checked file at once (the command line): the import, or the preview with
        the problems or the earlier import that kept it from happening."""
        require(actor.role, Permission.RECORD, "Importing a file")
        prepared = await self.prepare(checked)
        if checked.problems or prepared.changes is None:
            return await self.keep(actor, file_name, prepared)
        async with self._uow() as uow:
            return await self._store(uow, actor, file_name, checked, None, prepared.changes)

    async def _store(
        self,
        uow: UnitOfWork,
        actor: Actor,
        file_name: str,
        checked: Inspected,
        summary: str | None,
        found: Changes,
    ) -> Imported:
        before = await uow.imports.find(checked.digest)
        if before is not None:
            raise UserError(
                f"The same rows were imported on {before.at:%d %b %Y %H:%M} UTC"
                + (f" by {before.user_name}" if before.user_name else "")
                + ": nothing changed."
            )
        if summary is None:
            summary = describe(file_name, checked.facts, self._catalog.keys, found.skipped)
        async with self._catalogued(found.materials):
            record = await uow.imports.add(
                ImportRecord(
                    checked.digest,
                    file_name,
                    summary,
                    checked.facts.moves + checked.facts.quotes + checked.facts.prices
                    + len(checked.facts.materials),
                    self._clock.now(),
                    actor.user_id,
                    actor.name,
                    actor.chat_id,
                    actor.source.value,
                )
            )  # fmt: skip
            if found.materials:
                figures = {
                    r.material.key: Figures(r.lead_time_days, r.minimum, r.daily_use)
                    for r in found.materials
                }
                await self._materials.save([r.material for r in found.materials], figures)
            touched = await self._store_moves(uow, found.moves, actor, record.id)
            if found.quotes:
                await uow.vendors.add(found.quotes, actor.user_id, actor.name, "import", record.id)
            await self._store_prices(uow, found.prices)
            alerts = []
            if self._alerts is not None:
                for key in sorted(touched):
                    status = await self._inventory.status(self._catalog.get(key))
                    alert = await self._alerts.check_stock_status(status)
                    if alert is not None:
                        alerts.append(alert)
        log.info("Imported %s for %s: %s", file_name, actor.name, summary)
        return Imported(record, found.skipped, tuple(alerts))

    async def _store_moves(
        self, uow: UnitOfWork, lines: str, actor: Actor, import_id: int
    ) -> set[str]:
        """Appends the moves a step at a time; returns the materials they were of."""
        touched: set[str] = set()
        batch: list[NewMove] = []
        for material, at, kind, quantity, reference, note, difference in move_rows(lines):
            batch.append(
                NewMove(
                    material,
                    kind,
                    quantity,
                    at,
                    Source.IMPORT,
                    actor.user_id,
                    actor.name,
                    actor.chat_id,
                    reference,
                    note,
                    difference,
                    import_id=import_id,
                )
            )
            touched.add(material)
            if len(batch) == STORE_BATCH:
                await uow.stock.add_many(batch)
                batch = []
        if batch:
            await uow.stock.add_many(batch)
        return touched

    async def _store_prices(self, uow: UnitOfWork, lines: str) -> None:
        batch: list[PricePoint] = []
        for point in price_rows(lines, IMPORT_SOURCE):
            batch.append(point)
            if len(batch) == STORE_BATCH:
                await uow.prices.add(batch)
                batch = []
                await asyncio.sleep(0)
        if batch:
            await uow.prices.add(batch)

    @asynccontextmanager
    async def _catalogued(self, materials: Sequence[MaterialRow]) -> AsyncIterator[None]:
        """The file's materials are in the catalog while it is imported (its moves' stock is
        assessed), and stay there only if the import is stored."""
        before = list(self._catalog)
        for row in materials:
            self._catalog.put(row.material)
        try:
            yield
        except BaseException:
            self._catalog.reset(before)
            raise

    async def _changes(self, uow: UnitOfWork, checked: Inspected) -> Changes:
        """What the checked rows add to what is stored (worked out off the event loop)."""
        facts: PlanFacts = checked.facts
        existing_moves: list[StockMove] = []
        for material, _, _ in facts.move_spans:
            existing_moves += await uow.stock.effective(material)
        history: list[VendorQuote] = []
        for material in facts.quote_materials:
            history += await uow.vendors.history(material)
        lead_times = {i.material: i.lead_time_days for i in await uow.inventory.all()}
        price_times = {
            material: await uow.prices.times(material, first, last)
            for material, first, last, _ in facts.price_spans
        }
        currencies = {m.key: m.currency for m in self._catalog}
        return await self._run(
            changes,
            checked.text,
            existing_moves,
            history,
            lead_times,
            currencies,
            price_times,
            self._clock.now(),
        )

    async def export(self) -> tuple[str, bytes]:
        """Everything as an XLSX file (materials, stock moves, quotes, prices) that imports
        again unchanged; returns its name and content."""
        async with self._uow() as uow:
            items = {i.material: i for i in await uow.inventory.all()}
            moves = await uow.stock.effective()
            quotes = await uow.vendors.history()
            prices: list[PricePoint] = []
            for material in self._catalog:
                prices += await uow.prices.history(material.key, EPOCH)
        materials = list(self._catalog)
        name = f"procurement-{self._clock.now():%Y-%m-%d}.xlsx"
        tables = await self._run(_export_tables, materials, items, moves, quotes, prices)
        return name, await self._run(self._files.write, tables)


def _number(value: float | None) -> Cell:
    if value is None:
        return None
    return int(value) if float(value).is_integer() else value


def _export_tables(
    materials: Sequence[Any],
    items: dict[str, Any],
    moves: Sequence[Any],
    quotes: Sequence[VendorQuote],
    prices: Sequence[PricePoint],
) -> list[tuple[str, Sequence[str], Sequence[Sequence[Cell]]]]:
    units = {m.key: m.unit for m in materials}
    material_rows: list[list[Cell]] = []
    for m in materials:
        item = items.get(m.key)
        material_rows.append(
            [
                m.key,
                m.name,
                m.unit,
                m.currency,
                ", ".join(m.aliases),
                item.lead_time_days if item else None,
                _number(item.minimum) if item else None,
                _number(item.daily_consumption) if item else None,
            ]
        )
    move_rows: list[list[Cell]] = [
        [
            m.at,
            m.material,
            m.kind.value,
            _number(m.quantity),
            units.get(m.material),
            m.reference,
            m.note,
        ]
        for m in moves
    ]
    quote_rows: list[list[Cell]] = [
        [
            q.vendor,
            q.material,
            _number(q.price),
            q.currency,
            q.delivery_days,
            _number(q.min_order_qty),
            _number(q.pack_size),
            q.valid_until,
            _number(q.rating),
            ",".join(f"{_number(b.quantity)}:{_number(b.price)}" for b in q.breaks) or None,
            q.quoted_at,
        ]
        for q in quotes
    ]
    price_rows: list[list[Cell]] = [[p.at, p.material, _number(p.price)] for p in prices]
    return [
        (str(kind), _columns(kind), rows)
        for kind, rows in (
            (TableKind.MATERIALS, material_rows),
            (TableKind.MOVES, move_rows),
            (TableKind.QUOTES, quote_rows),
            (TableKind.PRICES, price_rows),
        )
    ]


def _columns(kind: TableKind) -> tuple[str, ...]:
    layout = LAYOUT[kind]
    return (*layout.required, *layout.optional)
