"""Files in and out: a CSV or XLSX file is read and every row checked off the event loop, shown
as a preview kept as a pending action, and imported all or nothing as one unit of work; the
same rows imported again change nothing. The export is everything as an XLSX file that imports
again unchanged."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ParamSpec, TypeVar

from core.access import Permission, require
from core.domain.actors import Actor, Source
from core.domain.imports import (
    LAYOUT,
    Cell,
    Checked,
    ImportPlan,
    ImportRecord,
    Skipped,
    TableKind,
    check_tables,
    describe,
)
from core.domain.pending import PendingAction, PendingKind, PendingState
from core.domain.quotes import complete, vendor_key
from core.domain.stock import NewMove, StockMove, move_key, with_differences
from core.errors import UserError
from core.inventory import InventoryService
from core.materials import MaterialCatalog
from core.models import Alert, PricePoint, VendorQuote
from core.ports import Clock, Spreadsheets, UnitOfWork
from core.services.materials import Figures, MaterialService
from core.services.pending import answerable
from core.services.stock import StockAlerts

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 20 * 1024 * 1024  # what a Telegram bot may download
PREVIEW_LIFETIME = timedelta(hours=1)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

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
class Imported:
    record: ImportRecord
    skipped: Skipped
    alerts: tuple[Alert, ...] = ()


class ImportService:
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

    async def check(self, file_name: str, data: bytes) -> Checked:
        """Reads the file and checks every row, off the event loop."""
        if len(data) > MAX_FILE_BYTES:
            raise UserError(
                f"{file_name} is {len(data) / 1024 / 1024:.0f} MB: files up to 20 MB can be "
                "imported; split it into smaller ones."
            )
        tables = await self._run(self._files.read, file_name, data)
        catalog = MaterialCatalog(list(self._catalog))  # a copy the worker may read alone
        return await self._run(check_tables, tables, catalog, self._clock.now())

    async def preview(
        self, actor: Actor, file_name: str, checked: Checked, keep: bool = True
    ) -> Preview:
        """What importing the checked file would store, kept (with `keep`) as a pending
        import that `run` imports; or the file's problems, with their lines."""
        require(actor.role, Permission.RECORD, "Importing a file")
        if not checked.ok:
            return Preview(file_name, problems=tuple(checked.problems.describe()))
        plan = checked.plan
        digest, plan_text = await self._run(_digest_and_text, plan)
        async with self._uow() as uow:
            before = await uow.imports.find(digest)
            if before is not None:
                return Preview(file_name, imported_before=before)
            skipped = (await self._changes(uow, plan))[1]
            summary = describe(file_name, plan, self._catalog.keys, skipped)
            if not keep:
                return Preview(file_name, summary)
            now = self._clock.now()
            action = await uow.pending.add(
                PendingAction(
                    PendingKind.IMPORT,
                    {
                        "file_name": file_name,
                        "digest": digest,
                        "summary": summary,
                        "plan": plan_text,
                    },
                    actor.user_id,
                    actor.chat_id,
                    now,
                    now + PREVIEW_LIFETIME,
                )
            )
        return Preview(file_name, summary, action_id=action.id)

    async def run(self, actor: Actor, action_id: int) -> Imported:
        """Imports a previewed file: its owner or an admin may, once, within the hour."""
        require(actor.role, Permission.RECORD, "Importing a file")
        async with self._uow() as uow:
            action = await answerable(uow, actor, action_id, PendingKind.IMPORT, self._clock.now())
            if not await uow.pending.settle(action_id, PendingState.DONE, self._clock.now()):
                raise UserError("That file has been answered already.")
            payload = action.payload
            plan = await self._run(_plan_of, payload["plan"])
            async with self._catalogued(uow, plan):
                imported = await self._store(
                    uow, actor, payload["file_name"], plan, payload["digest"], payload["summary"]
                )
        return imported

    async def import_file(
        self, actor: Actor, file_name: str, checked: Checked
    ) -> Imported | Preview:
        """Imports a checked file at once (the command line): the import, or the preview with
        the problems or the earlier import that kept it from happening."""
        require(actor.role, Permission.RECORD, "Importing a file")
        if not checked.ok:
            return Preview(file_name, problems=tuple(checked.problems.describe()))
        plan = checked.plan
        digest, _ = await self._run(_digest_and_text, plan)
        async with self._uow() as uow:
            before = await uow.imports.find(digest)
            if before is not None:
                return Preview(file_name, imported_before=before)
            skipped = (await self._changes(uow, plan))[1]
            summary = describe(file_name, plan, self._catalog.keys, skipped)
            async with self._catalogued(uow, plan):
                imported = await self._store(uow, actor, file_name, plan, digest, summary)
        return imported

    @asynccontextmanager
    async def _catalogued(self, uow: UnitOfWork, plan: ImportPlan) -> AsyncIterator[None]:
        """The file's materials are in the catalog while it is imported (its moves' stock is
        assessed), and stay there only if the import is stored."""
        before = list(self._catalog)
        for row in plan.materials:
            self._catalog.put(row.material)
        try:
            yield
        except BaseException:
            self._catalog.reset(before)
            raise

    async def _store(
        self,
        uow: UnitOfWork,
        actor: Actor,
        file_name: str,
        plan: ImportPlan,
        digest: str,
        summary: str,
    ) -> Imported:
        before = await uow.imports.find(digest)
        if before is not None:
            raise UserError(
                f"The same rows were imported on {before.at:%d %b %Y %H:%M} UTC"
                + (f" by {before.user_name}" if before.user_name else "")
                + ": nothing changed."
            )
        record = await uow.imports.add(
            ImportRecord(
                digest,
                file_name,
                summary,
                plan.rows,
                self._clock.now(),
                actor.user_id,
                actor.name,
                actor.chat_id,
                actor.source.value,
            )
        )
        if plan.materials:
            await self._materials.save(
                [r.material for r in plan.materials],
                {
                    r.material.key: Figures(r.lead_time_days, r.minimum, r.daily_use)
                    for r in plan.materials
                },
            )
        (moves, quotes, prices), skipped = await self._changes(uow, plan, actor, record.id)
        await uow.stock.add_many(moves)
        if quotes:
            await uow.vendors.add(quotes, actor.user_id, actor.name, "import", record.id)
        if prices:
            await uow.prices.add(prices)
        alerts = []
        if self._alerts is not None:
            for key in sorted({m.material for m in moves}):
                status = await self._inventory.status(self._catalog.get(key))
                alert = await self._alerts.check_stock_status(status)
                if alert is not None:
                    alerts.append(alert)
        log.info("Imported %s for %s: %s", file_name, actor.name, summary)
        return Imported(record, skipped, tuple(alerts))

    async def _changes(
        self,
        uow: UnitOfWork,
        plan: ImportPlan,
        actor: Actor | None = None,
        import_id: int | None = None,
    ) -> tuple[tuple[list[NewMove], list[VendorQuote], list[PricePoint]], Skipped]:
        """What the plan adds to what is stored (the rows stored already left out)."""
        existing_moves: list[StockMove] = []
        for material in sorted({m.material for m in plan.moves}):
            existing_moves += await uow.stock.effective(material)
        history: list[VendorQuote] = []
        for material in sorted({q.material for q in plan.quotes}):
            history += await uow.vendors.history(material)
        lead_times = {i.material: i.lead_time_days for i in await uow.inventory.all()}
        lead_times |= {
            r.material.key: r.lead_time_days for r in plan.materials if r.lead_time_days is not None
        }
        price_times: dict[str, set[datetime]] = {}
        for material in sorted({p.material for p in plan.prices}):
            times = [p.at for p in plan.prices if p.material == material]
            price_times[material] = await uow.prices.times(material, min(times), max(times))
        currencies = {m.key: m.currency for m in self._catalog} | {
            r.material.key: r.material.currency for r in plan.materials
        }
        return await self._run(
            _new_rows,
            plan,
            existing_moves,
            history,
            lead_times,
            currencies,
            price_times,
            actor,
            import_id,
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


def _digest_and_text(plan: ImportPlan) -> tuple[str, str]:
    payload = plan.to_payload()
    return plan.digest(payload), json.dumps(payload, separators=(",", ":"))


def _plan_of(text: str) -> ImportPlan:
    return ImportPlan.from_payload(json.loads(text))


def _new_rows(
    plan: ImportPlan,
    existing_moves: Sequence[StockMove],
    history: Sequence[VendorQuote],
    lead_times: dict[str, int],
    currencies: dict[str, str],
    price_times: dict[str, set[datetime]],
    actor: Actor | None,
    import_id: int | None,
    now: datetime,
) -> tuple[tuple[list[NewMove], list[VendorQuote], list[PricePoint]], Skipped]:
    """The plan's rows that are not stored yet, made ready to store (runs off the loop)."""
    stored = {move_key(m) for m in existing_moves}
    moves: list[NewMove] = []
    skipped_moves = 0
    for row in plan.moves:
        move = NewMove(
            row.material,
            row.kind,
            row.quantity,
            row.at,
            Source.IMPORT,
            actor.user_id if actor else None,
            actor.name if actor else None,
            actor.chat_id if actor else None,
            row.reference,
            row.note,
            import_id=import_id,
        )
        key = move_key(move)
        if key in stored:
            skipped_moves += 1
            continue
        stored.add(key)
        moves.append(move)
    moves = with_differences(existing_moves, moves)

    current: dict[tuple[str, str], VendorQuote] = {}
    seen: set[tuple[Any, ...]] = set()
    for quote in history:
        current[(quote.material, vendor_key(quote.vendor))] = quote
        seen.add(_quote_key(quote, with_time=True))
    quotes: list[VendorQuote] = []
    skipped_quotes = 0
    for terms in plan.quotes:
        vendor = (terms.material, vendor_key(terms.vendor))
        previous = current.get(vendor)
        done = complete(
            terms, previous, currencies[terms.material], lead_times.get(terms.material), now
        ).quote
        same_as_stored = (
            _quote_key(done, with_time=True) in seen
            if terms.quoted_at is not None
            else previous is not None and _quote_key(done) == _quote_key(previous)
        )
        if same_as_stored:
            skipped_quotes += 1
            continue
        seen.add(_quote_key(done, with_time=True))
        current[vendor] = done
        quotes.append(done)

    prices: list[PricePoint] = []
    skipped_prices = 0
    for point in plan.prices:
        times = price_times.setdefault(point.material, set())
        if point.at in times:
            skipped_prices += 1
            continue
        times.add(point.at)
        prices.append(point)
    return (moves, quotes, prices), Skipped(skipped_moves, skipped_quotes, skipped_prices)


def _quote_key(quote: VendorQuote, with_time: bool = False) -> tuple[Any, ...]:
    return (
        vendor_key(quote.vendor),
        quote.material,
        quote.price,
        quote.currency,
        quote.rating,
        quote.delivery_days,
        quote.min_order_qty,
        quote.pack_size,
        quote.valid_until,
        quote.breaks,
        quote.quoted_at if with_time else None,
    )


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
