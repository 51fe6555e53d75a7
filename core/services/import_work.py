"""The heavy steps of an import, as plain functions for a worker process (or a thread in tests):
reading and checking every row of a file, and working out which rows are new. What crosses to
and from the worker is compact (the checked rows as JSON lines, not a hundred thousand objects),
so that the bot's own process never holds, nor has its garbage collector walk, a large file's
rows: a collection over them would hold up every chat for a noticeable moment."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from core.domain.actors import Source
from core.domain.imports import (
    ImportPlan,
    MaterialRow,
    PlanFacts,
    Skipped,
    check_tables,
    facts_of,
)
from core.domain.quotes import complete, vendor_key
from core.domain.stock import MoveKind, NewMove, StockMove, move_key, with_differences
from core.materials import MaterialCatalog
from core.models import Material, PricePoint, VendorQuote
from core.ports import Spreadsheets


@dataclass(frozen=True)
class Inspected:
    """A file read and checked: its problems, or its rows (as JSON lines), their digest, what
    they hold in a few numbers, and the materials it defines."""

    problems: tuple[str, ...] = ()
    digest: str = ""
    text: str = ""
    facts: PlanFacts = field(default_factory=PlanFacts)
    materials: tuple[MaterialRow, ...] = ()


def inspect(
    files: Spreadsheets,
    file_name: str,
    data: bytes,
    materials: Sequence[Material],
    now: datetime,
) -> Inspected:
    """Reads the file and checks every row (UserError for a file that cannot be read)."""
    checked = check_tables(files.read(file_name, data), MaterialCatalog(materials), now)
    if not checked.ok:
        return Inspected(tuple(checked.problems.describe()))
    plan = checked.plan
    return Inspected((), plan.digest(), plan.text(), facts_of(plan), plan.materials)


@dataclass(frozen=True)
class Changes:
    """What a checked file adds to what is stored: moves and prices as JSON lines (moves:
    `[at, material, kind, quantity, reference, note, difference]`, prices: `[material, at,
    price]`), quotes with what they left out filled in, and the rows stored already."""

    moves: str
    quotes: tuple[VendorQuote, ...]
    prices: str
    skipped: Skipped
    materials: tuple[MaterialRow, ...] = ()


def changes(
    text: str,
    existing_moves: Sequence[StockMove],
    history: Sequence[VendorQuote],
    lead_times: dict[str, int],
    currencies: dict[str, str],
    price_times: dict[str, set[datetime]],
    now: datetime,
) -> Changes:
    """The rows of the plan `text` that are not stored yet, ready to store. A row counts as
    stored when an equal one is (a move with the same material, kind, time, quantity,
    reference and note; a price of the material at the same time; the same quote), as many
    times over as it is stored: the same file twice adds nothing, two equal rows in one file
    are two moves."""
    plan = ImportPlan.from_text(text)
    lead_times = lead_times | {
        r.material.key: r.lead_time_days for r in plan.materials if r.lead_time_days is not None
    }
    currencies = currencies | {r.material.key: r.material.currency for r in plan.materials}
    stored = Counter(move_key(m) for m in existing_moves)
    moves: list[NewMove] = []
    for row in plan.moves:
        move = NewMove(
            row.material, row.kind, row.quantity, row.at, Source.IMPORT, None, None, None,
            row.reference, row.note,
        )  # fmt: skip
        key = move_key(move)
        if stored[key] > 0:
            stored[key] -= 1
            continue
        moves.append(move)
    skipped_moves = len(plan.moves) - len(moves)
    moves = with_differences(existing_moves, moves)

    current: dict[tuple[str, str], VendorQuote] = {}
    seen: set[tuple[object, ...]] = set()
    for quote in history:
        current[(quote.material, vendor_key(quote.vendor))] = quote
        seen.add(_quote_key(quote, with_time=True))
    quotes: list[VendorQuote] = []
    for terms in plan.quotes:
        vendor = (terms.material, vendor_key(terms.vendor))
        previous = current.get(vendor)
        done = complete(
            terms, previous, currencies[terms.material], lead_times.get(terms.material), now
        ).quote
        if terms.quoted_at is not None:
            same_as_stored = _quote_key(done, with_time=True) in seen
        else:
            same_as_stored = previous is not None and _quote_key(done) == _quote_key(previous)
        if same_as_stored:
            continue
        seen.add(_quote_key(done, with_time=True))
        current[vendor] = done
        quotes.append(done)

    prices: list[PricePoint] = []
    for point in plan.prices:
        times = price_times.setdefault(point.material, set())
        if point.at in times:
            continue
        times.add(point.at)
        prices.append(point)
    skipped = Skipped(skipped_moves, len(plan.quotes) - len(quotes), len(plan.prices) - len(prices))
    return Changes(_move_lines(moves), tuple(quotes), _price_lines(prices), skipped, plan.materials)


def _move_lines(moves: Sequence[NewMove]) -> str:
    return "\n".join(
        json.dumps(
            [
                m.at.isoformat(),
                m.material,
                m.kind.value,
                m.quantity,
                m.reference,
                m.note,
                m.difference,
            ],
            separators=(",", ":"),
        )
        for m in moves
    )


def _price_lines(prices: Sequence[PricePoint]) -> str:
    return "\n".join(
        json.dumps([p.material, p.at.isoformat(), p.price], separators=(",", ":")) for p in prices
    )


def move_rows(
    lines: str,
) -> Iterator[tuple[str, datetime, MoveKind, float, str | None, str | None, float | None]]:
    """The moves `Changes.moves` holds: (material, at, kind, quantity, reference, note,
    difference), one line at a time."""
    for line in lines.splitlines():
        at, material, kind, quantity, reference, note, difference = json.loads(line)
        yield (
            material,
            datetime.fromisoformat(at),
            MoveKind(kind),
            quantity,
            reference,
            note,
            difference,
        )


def price_rows(lines: str, source: str) -> Iterator[PricePoint]:
    for line in lines.splitlines():
        material, at, price = json.loads(line)
        yield PricePoint(material, datetime.fromisoformat(at), price, source)


def _quote_key(quote: VendorQuote, with_time: bool = False) -> tuple[object, ...]:
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
