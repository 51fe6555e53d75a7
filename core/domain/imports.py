"""Files of the factory's data: which table a header names, every row checked, and the plan of
what an import would store.

A table is known by its header (any column order, any case):

- materials `key,name,unit,currency[,aliases,lead_time_days,minimum,daily_use]`
- stock moves `date,material,kind,quantity[,unit,reference,note]` (kind receive, use or count)
- quotes `vendor,material,price[,currency,delivery_days,min_order_qty,pack_size,valid_until,
  rating,breaks,quoted_at]`
- prices `timestamp,material,price`

Every row of every table is checked before anything is stored; a file with any bad row is not
imported at all. Dates and times are ISO 8601 (a date is midnight UTC, a time without an offset
UTC) or spreadsheet date cells; quantities take units (`2,500 kg`), converted to the
material's unit. The plan's digest is a hash of the checked rows, so the same data imported
twice is recognised however the file was laid out.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time
from enum import StrEnum
from typing import Any

from core.domain.materials import (
    check_currency,
    check_key,
    check_name,
    check_unit,
    split_aliases,
)
from core.domain.quotes import QuoteTerms
from core.domain.stock import MoveKind
from core.domain.units import BadQuantity, parse_number, parse_quantity
from core.errors import UnknownMaterial, UserError
from core.materials import MaterialCatalog
from core.models import Material, PriceBreak, PricePoint

MAX_LISTED_ERRORS = 10
TEXT_LIMIT = 200
IMPORT_SOURCE = "import"  # the source of imported prices

Cell = str | int | float | datetime | date | None


class TableKind(StrEnum):
    MATERIALS = "materials"
    MOVES = "stock moves"
    QUOTES = "quotes"
    PRICES = "prices"


@dataclass(frozen=True)
class Layout:
    kind: TableKind
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()

    def describe(self) -> str:
        extra = "".join(f",{name}" for name in self.optional)
        return f"{','.join(self.required)}" + (f"[{extra}]" if extra else "")


LAYOUTS = (
    Layout(
        TableKind.MATERIALS,
        ("key", "name", "unit", "currency"),
        ("aliases", "lead_time_days", "minimum", "daily_use"),
    ),
    Layout(
        TableKind.MOVES, ("date", "material", "kind", "quantity"), ("unit", "reference", "note")
    ),
    Layout(
        TableKind.QUOTES,
        ("vendor", "material", "price"),
        (
            "currency",
            "delivery_days",
            "min_order_qty",
            "pack_size",
            "valid_until",
            "rating",
            "breaks",
            "quoted_at",
        ),
    ),
    Layout(TableKind.PRICES, ("timestamp", "material", "price")),
)
LAYOUT = {layout.kind: layout for layout in LAYOUTS}


def known_layouts() -> str:
    return "; ".join(f"{layout.kind} {layout.describe()}" for layout in LAYOUTS)


@dataclass(frozen=True)
class RawTable:
    """A table as read from a file: `name` is the file's or the sheet's, each row carries the
    line (or spreadsheet row) it came from."""

    name: str
    header: tuple[str, ...]
    rows: Sequence[tuple[int, tuple[Cell, ...]]]


@dataclass(frozen=True)
class MaterialRow:
    material: Material
    lead_time_days: int | None = None
    minimum: float | None = None
    daily_use: float | None = None


@dataclass(frozen=True)
class MoveRow:
    at: datetime
    material: str
    kind: MoveKind
    quantity: float
    reference: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class ImportPlan:
    """What a file holds, checked: ready to be stored."""

    materials: tuple[MaterialRow, ...] = ()
    moves: tuple[MoveRow, ...] = ()
    quotes: tuple[QuoteTerms, ...] = ()
    prices: tuple[PricePoint, ...] = ()

    @property
    def rows(self) -> int:
        return len(self.materials) + len(self.moves) + len(self.quotes) + len(self.prices)

    def lines(self) -> Iterator[str]:
        """The plan as JSON lines, one per row (each a list, its first item the table): small
        enough pieces that writing and reading a large plan never holds up other threads."""
        for r in self.materials:
            m = r.material
            aliases = list(m.aliases)
            figures = [r.lead_time_days, r.minimum, r.daily_use]
            yield _line(["material", m.key, m.name, m.unit, m.currency, aliases, *figures])
        for v in self.moves:
            yield _line(
                ["move", _iso(v.at), v.material, v.kind.value, v.quantity, v.reference, v.note]
            )
        for q in self.quotes:
            yield _line(
                [
                    "quote",
                    q.vendor,
                    q.material,
                    q.price,
                    q.currency,
                    q.delivery_days,
                    q.min_order_qty,
                    q.pack_size,
                    q.valid_until.isoformat() if q.valid_until else None,
                    q.rating,
                    [[b.quantity, b.price] for b in q.breaks],
                    _iso(q.quoted_at) if q.quoted_at else None,
                ]
            )
        for p in self.prices:
            yield _line(["price", p.material, _iso(p.at), p.price])

    def text(self) -> str:
        return "\n".join(self.lines())

    @classmethod
    def from_text(cls, text: str) -> ImportPlan:
        """The plan `text()` wrote."""
        materials, moves, quotes, prices = [], [], [], []
        for line in text.splitlines():
            kind, *row = json.loads(line)
            if kind == "move":
                at, m, move_kind, q, ref, note = row
                moves.append(MoveRow(_time(at), m, MoveKind(move_kind), q, ref, note))
            elif kind == "material":
                k, n, u, c, a, lead, minimum, daily = row
                materials.append(MaterialRow(Material(k, n, u, c, tuple(a)), lead, minimum, daily))
            elif kind == "quote":
                v, m, price, cur, days, minimum, pack, valid, rating, breaks, quoted = row
                quotes.append(
                    QuoteTerms(
                        v,
                        m,
                        price,
                        cur,
                        days,
                        minimum,
                        pack,
                        date.fromisoformat(valid) if valid else None,
                        rating,
                        tuple(PriceBreak(bq, bp) for bq, bp in breaks),
                        _time(quoted) if quoted else None,
                    )
                )
            else:
                m, at, price = row
                prices.append(PricePoint(m, _time(at), price, IMPORT_SOURCE))
        return cls(tuple(materials), tuple(moves), tuple(quotes), tuple(prices))

    def digest(self) -> str:
        """A hash of the checked rows: the same data gives the same digest."""
        hashed = hashlib.sha256()
        for line in self.lines():
            hashed.update(line.encode())
            hashed.update(b"\n")
        return hashed.hexdigest()


def _line(row: list[Any]) -> str:
    return json.dumps(row, separators=(",", ":"))


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class Problems:
    """The errors found, the first MAX_LISTED_ERRORS kept in full."""

    listed: list[str] = field(default_factory=list)
    count: int = 0

    def add(self, message: str) -> None:
        self.count += 1
        if len(self.listed) < MAX_LISTED_ERRORS:
            self.listed.append(message)

    def __bool__(self) -> bool:
        return self.count > 0

    def describe(self) -> list[str]:
        more = self.count - len(self.listed)
        return self.listed + ([f"and {more} more"] if more > 0 else [])


@dataclass(frozen=True)
class Checked:
    """A file checked: its plan, or the problems that keep it from being imported."""

    plan: ImportPlan
    problems: Problems

    @property
    def ok(self) -> bool:
        return not self.problems and self.plan.rows > 0


class RowError(ValueError):
    """One cell that is wrong; the message names the column and the value."""


def _normal_header(name: object) -> str:
    text = "" if name is None else str(name)
    return "_".join(text.replace("\ufeff", "").strip().lower().split())


def layout_of(header: Sequence[str]) -> Layout | str:
    """The layout the header names, or why it names none."""
    names = [_normal_header(h) for h in header]
    while names and not names[-1]:
        names.pop()
    for layout in LAYOUTS:
        if set(layout.required) <= set(names):
            unknown = [
                n or "(empty)" for n in names if n not in (*layout.required, *layout.optional)
            ]
            doubled = sorted({n for n in names if names.count(n) > 1})
            if unknown:
                listed = ", ".join(f"'{n}'" for n in unknown)
                return (
                    f"column {listed} is not one I know: a {layout.kind} table has "
                    f"{layout.describe()}"
                )
            if doubled:
                return f"column '{doubled[0]}' appears twice"
            return layout
    shown = ",".join(names)[:80]
    return f"the header '{shown}' is none I know. A file is known by its header: {known_layouts()}"


def _text(cell: Cell) -> str:
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    if isinstance(cell, datetime | date):
        return cell.isoformat()
    return str(cell).strip()


def _shown(cell: Cell) -> str:
    text = _text(cell)
    return text if len(text) <= 40 else text[:39] + "…"


def _number(cell: Cell, column: str) -> float:
    if isinstance(cell, bool):
        raise RowError(f"{column} '{_shown(cell)}' is not a number")
    if isinstance(cell, int | float):
        if not math.isfinite(cell):
            raise RowError(f"{column} '{_shown(cell)}' is not a number")
        return float(cell)
    try:
        return parse_number(_text(cell))
    except ValueError:
        raise RowError(f"{column} '{_shown(cell)}' is not a number") from None


def _quantity(cell: Cell, column: str, unit: str, given_unit: str = "") -> float:
    if isinstance(cell, int | float) and not isinstance(cell, bool) and not given_unit:
        return _number(cell, column)
    text = f"{_text(cell)} {given_unit}".strip()
    if not text:
        raise RowError(f"{column} is missing")
    try:
        return parse_quantity(text, unit)
    except BadQuantity:
        bare = _text(cell)
        try:
            parse_number(bare)
        except ValueError:
            raise RowError(f"{column} '{_shown(cell)}' is not a number") from None
        raise RowError(
            f"unit '{given_unit}' cannot be converted to the material's unit ({unit})"
        ) from None


def _whole(cell: Cell, column: str) -> int:
    if isinstance(cell, int | float) and not isinstance(cell, bool):
        value = _number(cell, column)
    else:
        text = re.sub(r"\s*(days?|d)$", "", _text(cell).lower())
        try:
            value = parse_number(text)
        except ValueError:
            raise RowError(f"{column} '{_shown(cell)}' is not a whole number of days") from None
    if value < 0 or not value.is_integer():
        raise RowError(f"{column} '{_shown(cell)}' is not a whole number of days")
    return int(value)


def _moment(cell: Cell, column: str, now: datetime) -> datetime:
    """A time from an ISO 8601 date (midnight UTC) or timestamp (UTC without an offset), or a
    spreadsheet date cell; not in the future."""
    if isinstance(cell, datetime):
        moment = cell
    elif isinstance(cell, date):
        moment = datetime.combine(cell, time(0, 0))
    else:
        text = _text(cell)
        if not text:
            raise RowError(f"{column} is missing")
        try:
            if len(text) == 10:
                moment = datetime.combine(date.fromisoformat(text), time(0, 0))
            else:
                moment = datetime.fromisoformat(text.replace("Z", "+00:00", 1))
        except ValueError:
            raise RowError(
                f"{column} '{_shown(cell)}' is not a date or time like 2026-11-24 or "
                "2026-11-24T14:05:00Z"
            ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC).replace(microsecond=0)
    if moment > now:
        raise RowError(f"{column} {moment:%Y-%m-%d %H:%M} is in the future")
    return moment


def _day(cell: Cell, column: str) -> date:
    if isinstance(cell, datetime):
        return cell.date()
    if isinstance(cell, date):
        return cell
    text = _text(cell)
    try:
        return date.fromisoformat(text[:10]) if len(text) >= 10 else date.fromisoformat(text)
    except ValueError:
        raise RowError(f"{column} '{_shown(cell)}' is not a date like 2026-12-31") from None


def _optional_text(cell: Cell, column: str) -> str | None:
    text = _text(cell)
    if len(text) > TEXT_LIMIT:
        raise RowError(f"{column} is longer than {TEXT_LIMIT} characters")
    return text or None


def parse_breaks(text: str, unit: str) -> tuple[PriceBreak, ...]:
    """'50:9100,100:9000' (or separated by ;) -> price breaks, quantities ascending."""
    hint = "breaks are QUANTITY:PRICE pairs such as 50:9100,100:9000 (no thousands separators)"
    breaks = []
    for part in (p.strip() for p in text.replace(";", ",").split(",")):
        if not part:
            continue
        quantity_text, colon, price_text = part.partition(":")
        if not colon:
            raise RowError(f"'{part}' is not a price break: {hint}")
        try:
            quantity = parse_quantity(quantity_text, unit)
            price = float(price_text.strip())
        except (BadQuantity, ValueError):
            raise RowError(f"'{part}' is not a price break: {hint}") from None
        if quantity <= 0 or not (math.isfinite(price) and price > 0):
            raise RowError(f"'{part}' is not a price break: quantity and price must be above 0")
        breaks.append(PriceBreak(quantity, price))
    quantities = [b.quantity for b in breaks]
    if quantities != sorted(set(quantities)):
        raise RowError("price breaks must go from the smallest quantity up, each once")
    return tuple(breaks)


class _Rows:
    """Reads one table's rows into values, recording the problems with their lines."""

    def __init__(self, table: RawTable, header: Sequence[str], prefix: str) -> None:
        self.table = table
        self.columns = {name: i for i, name in enumerate(header) if name}
        self.prefix = prefix

    def each(self) -> Iterable[tuple[int, Callable[[str], Cell]]]:
        for line, cells in self.table.rows:
            if all(_text(c) == "" for c in cells):
                continue

            def get(column: str, cells: tuple[Cell, ...] = cells) -> Cell:
                index = self.columns.get(column)
                return cells[index] if index is not None and index < len(cells) else None

            yield line, get

    def where(self, line: int) -> str:
        return f"{self.prefix}line {line}"


def _resolve(catalog: MaterialCatalog, cell: Cell) -> Material:
    text = _text(cell)
    if not text:
        raise RowError("material is missing")
    try:
        return catalog.resolve(text)
    except UnknownMaterial as error:
        hint = f" (did you mean {error.suggestion}?)" if error.suggestion else ""
        raise RowError(f"unknown material '{_shown(cell)}'{hint}") from None


def check_tables(tables: Sequence[RawTable], catalog: MaterialCatalog, now: datetime) -> Checked:
    """Checks every row of every table (materials first, so that the other tables may name
    the file's new materials) and returns the plan, or the problems with their lines."""
    problems = Problems()
    laid_out: list[tuple[RawTable, Layout]] = []
    for table in tables:
        layout = layout_of(table.header)
        if isinstance(layout, str):
            problems.add(f"{table.name}: {layout}")
        else:
            laid_out.append((table, layout))
    several = len(tables) > 1
    order = [TableKind.MATERIALS, TableKind.MOVES, TableKind.QUOTES, TableKind.PRICES]
    laid_out.sort(key=lambda pair: order.index(pair[1].kind))
    plan = ImportPlan()
    for table, layout in laid_out:
        header = [_normal_header(h) for h in table.header]
        rows = _Rows(table, header, f"{table.name} " if several else "")
        if layout.kind is TableKind.MATERIALS:
            materials = _materials(rows, catalog, problems)
            plan = replace(plan, materials=plan.materials + materials)
            catalog = MaterialCatalog([*catalog, *(r.material for r in materials)])
        elif layout.kind is TableKind.MOVES:
            plan = replace(plan, moves=plan.moves + _moves(rows, catalog, now, problems))
        elif layout.kind is TableKind.QUOTES:
            plan = replace(plan, quotes=plan.quotes + _quotes(rows, catalog, now, problems))
        else:
            plan = replace(plan, prices=plan.prices + _prices(rows, catalog, now, problems))
    if not problems and plan.rows == 0:
        problems.add("the file has a header but no rows")
    return Checked(plan, problems)


def _materials(
    rows: _Rows, catalog: MaterialCatalog, problems: Problems
) -> tuple[MaterialRow, ...]:
    found: list[MaterialRow] = []
    seen: dict[str, int] = {}
    for line, get in rows.each():
        try:
            key = check_key(_text(get("key")))
            if key in seen:
                raise RowError(f"material {key} is also on line {seen[key]}")
            name = check_name(_text(get("name")))
            unit = check_unit(_text(get("unit")))
            currency = check_currency(_text(get("currency")))
            aliases = split_aliases(_text(get("aliases")))
            known = {m.key: m for m in catalog}.get(key)
            if known is not None and known.unit != unit:
                raise RowError(
                    f"{key} is measured in {known.unit}; its unit cannot change to {unit}, "
                    "as every recorded quantity is in it"
                )
            for alias in aliases:
                try:
                    other = catalog.resolve(alias)
                except UnknownMaterial:
                    continue
                if other.key != key:
                    raise RowError(f"alias '{alias}' names {other.key} already")
            lead = (
                _whole(get("lead_time_days"), "lead_time_days")
                if _text(get("lead_time_days"))
                else None
            )
            minimum = _quantity(get("minimum"), "minimum", unit) if _text(get("minimum")) else None
            daily = (
                _quantity(get("daily_use"), "daily_use", unit) if _text(get("daily_use")) else None
            )
            for column, value in (("minimum", minimum), ("daily_use", daily)):
                if value is not None and value < 0:
                    raise RowError(f"{column} must not be negative")
        except (RowError, UserError) as error:
            problems.add(f"{rows.where(line)}: {error}")
            continue
        seen[key] = line
        found.append(
            MaterialRow(Material(key, name, unit, currency, aliases), lead, minimum, daily)
        )
    return tuple(found)


def _moves(
    rows: _Rows, catalog: MaterialCatalog, now: datetime, problems: Problems
) -> tuple[MoveRow, ...]:
    found: list[MoveRow] = []
    kinds = {k.value: k for k in MoveKind}
    for line, get in rows.each():
        try:
            at = _moment(get("date"), "date", now)
            material = _resolve(catalog, get("material"))
            kind_text = _text(get("kind")).lower()
            if kind_text not in kinds:
                raise RowError(f"kind '{_shown(get('kind'))}' is not receive, use or count")
            kind = kinds[kind_text]
            quantity = _quantity(get("quantity"), "quantity", material.unit, _text(get("unit")))
            if quantity < 0 or (quantity == 0 and kind is not MoveKind.COUNT):
                raise RowError(
                    f"quantity '{_shown(get('quantity'))}' must be above 0"
                    + (" (a count may be 0)" if kind is not MoveKind.COUNT else "")
                )
            reference = _optional_text(get("reference"), "reference")
            note = _optional_text(get("note"), "note")
        except RowError as error:
            problems.add(f"{rows.where(line)}: {error}")
            continue
        found.append(MoveRow(at, material.key, kind, quantity, reference, note))
    return tuple(found)


def _quotes(
    rows: _Rows, catalog: MaterialCatalog, now: datetime, problems: Problems
) -> tuple[QuoteTerms, ...]:
    found: list[QuoteTerms] = []
    for line, get in rows.each():
        try:
            vendor = " ".join(_text(get("vendor")).split())
            if not vendor or len(vendor) > 100:
                raise RowError("vendor is missing" if not vendor else "vendor is too long")
            material = _resolve(catalog, get("material"))
            price = _number(get("price"), "price")
            if price <= 0:
                raise RowError(f"price '{_shown(get('price'))}' is not above zero")
            currency = _text(get("currency"))
            try:
                currency = check_currency(currency) if currency else material.currency
            except UserError:
                raise RowError(
                    f"currency '{_shown(get('currency'))}' is not a code like USD"
                ) from None
            days = (
                _whole(get("delivery_days"), "delivery_days")
                if _text(get("delivery_days"))
                else None
            )
            minimum = (
                _quantity(get("min_order_qty"), "min_order_qty", material.unit)
                if _text(get("min_order_qty"))
                else None
            )
            pack = (
                _quantity(get("pack_size"), "pack_size", material.unit)
                if _text(get("pack_size"))
                else None
            )
            for column, value in (("min_order_qty", minimum), ("pack_size", pack)):
                if value is not None and value <= 0:
                    raise RowError(f"{column} must be above 0")
            valid = _day(get("valid_until"), "valid_until") if _text(get("valid_until")) else None
            rating = _number(get("rating"), "rating") if _text(get("rating")) else None
            if rating is not None and not 0 <= rating <= 5:
                raise RowError(f"rating '{_shown(get('rating'))}' is not between 0 and 5")
            breaks = parse_breaks(_text(get("breaks")), material.unit)
            quoted = (
                _moment(get("quoted_at"), "quoted_at", now) if _text(get("quoted_at")) else None
            )
        except RowError as error:
            problems.add(f"{rows.where(line)}: {error}")
            continue
        found.append(
            QuoteTerms(
                vendor,
                material.key,
                price,
                currency,
                days,
                minimum,
                pack,
                valid,
                rating,
                breaks,
                quoted,
            )
        )
    return tuple(found)


def _prices(
    rows: _Rows, catalog: MaterialCatalog, now: datetime, problems: Problems
) -> tuple[PricePoint, ...]:
    found: list[PricePoint] = []
    for line, get in rows.each():
        try:
            at = _moment(get("timestamp"), "timestamp", now)
            material = _resolve(catalog, get("material"))
            price = _number(get("price"), "price")
            if price <= 0:
                raise RowError(f"price '{_shown(get('price'))}' is not above zero")
        except RowError as error:
            problems.add(f"{rows.where(line)}: {error}")
            continue
        found.append(PricePoint(material.key, at, price, IMPORT_SOURCE))
    return tuple(found)


@dataclass(frozen=True)
class ImportRecord:
    """A file imported: its digest (so the same rows are not imported twice), what it held,
    and who imported it when."""

    digest: str
    file_name: str
    summary: str
    rows: int
    at: datetime
    user_id: int | None
    user_name: str | None
    chat_id: int | None
    source: str
    id: int = 0


@dataclass(frozen=True)
class Skipped:
    """Rows of a file that are stored already (the same move, quote or price)."""

    moves: int = 0
    quotes: int = 0
    prices: int = 0

    @property
    def total(self) -> int:
        return self.moves + self.quotes + self.prices


def plural(count: int, word: str, many: str | None = None) -> str:
    return f"{count:,} {word if count == 1 else many or word + 's'}"


@dataclass(frozen=True)
class PlanFacts:
    """What a plan holds, in a few numbers (for its summary, and for what to look up before
    importing it), without its rows."""

    materials: tuple[str, ...] = ()
    moves_by_kind: tuple[tuple[str, int], ...] = ()
    move_spans: tuple[tuple[str, datetime, datetime], ...] = ()  # per material: first, last
    quotes: int = 0
    quote_materials: tuple[str, ...] = ()
    vendors: int = 0
    price_spans: tuple[tuple[str, datetime, datetime, int], ...] = ()  # ... and how many

    @property
    def moves(self) -> int:
        return sum(n for _, n in self.moves_by_kind)

    def to_json(self) -> dict[str, Any]:
        return {
            "materials": list(self.materials),
            "moves_by_kind": [list(pair) for pair in self.moves_by_kind],
            "move_spans": [[m, _iso(f), _iso(t)] for m, f, t in self.move_spans],
            "quotes": self.quotes,
            "quote_materials": list(self.quote_materials),
            "vendors": self.vendors,
            "price_spans": [[m, _iso(f), _iso(t), n] for m, f, t, n in self.price_spans],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PlanFacts:
        return cls(
            tuple(data["materials"]),
            tuple((kind, n) for kind, n in data["moves_by_kind"]),
            tuple((m, _time(f), _time(t)) for m, f, t in data["move_spans"]),
            data["quotes"],
            tuple(data["quote_materials"]),
            data["vendors"],
            tuple((m, _time(f), _time(t), n) for m, f, t, n in data["price_spans"]),
        )

    @property
    def prices(self) -> int:
        return sum(n for *_, n in self.price_spans)


def facts_of(plan: ImportPlan) -> PlanFacts:
    kinds = {kind.value: 0 for kind in MoveKind}
    spans: dict[str, tuple[datetime, datetime]] = {}
    for move in plan.moves:
        kinds[move.kind.value] += 1
        first, last = spans.get(move.material, (move.at, move.at))
        spans[move.material] = (min(first, move.at), max(last, move.at))
    prices: dict[str, tuple[datetime, datetime, int]] = {}
    for point in plan.prices:
        first, last, count = prices.get(point.material, (point.at, point.at, 0))
        prices[point.material] = (min(first, point.at), max(last, point.at), count + 1)
    return PlanFacts(
        materials=tuple(r.material.key for r in plan.materials),
        moves_by_kind=tuple(kinds.items()) if plan.moves else (),
        move_spans=tuple((m, *span) for m, span in sorted(spans.items())),
        quotes=len(plan.quotes),
        quote_materials=tuple(sorted({q.material for q in plan.quotes})),
        vendors=len({" ".join(q.vendor.split()).casefold() for q in plan.quotes}),
        price_spans=tuple((m, *span) for m, span in sorted(prices.items())),
    )


def describe(file_name: str, facts: PlanFacts, known: Iterable[str], skipped: Skipped) -> str:
    """'quotes.csv: 42 quotes, 5 materials, 9 vendors', and so on for each table."""
    known = set(known)
    parts = []
    if facts.materials:
        new = sum(1 for key in facts.materials if key not in known)
        parts.append(
            f"{plural(len(facts.materials), 'material')} ({new:,} new, "
            f"{len(facts.materials) - new:,} updated)"
        )
    if facts.moves:
        counts = dict(facts.moves_by_kind)
        first = min(f for _, f, _ in facts.move_spans)
        last = max(last for *_, last in facts.move_spans)
        parts.append(
            f"{plural(facts.moves, 'stock move')} ("
            f"{plural(counts[MoveKind.RECEIVE.value], 'receipt')}, "
            f"{plural(counts[MoveKind.USE.value], 'use')}, "
            f"{plural(counts[MoveKind.COUNT.value], 'count')}) "
            f"for {plural(len(facts.move_spans), 'material')}, {_span(first, last)}"
        )
    if facts.quotes:
        parts.append(
            f"{plural(facts.quotes, 'quote')}, "
            f"{plural(len(facts.quote_materials), 'material')}, {plural(facts.vendors, 'vendor')}"
        )
    if facts.prices:
        first = min(f for _, f, _, _ in facts.price_spans)
        last = max(last for _, _, last, _ in facts.price_spans)
        parts.append(
            f"{plural(facts.prices, 'price')} for "
            f"{plural(len(facts.price_spans), 'material')}, {_span(first, last)}"
        )
    text = f"{file_name}: " + ", ".join(parts)
    if skipped.total:
        stored = [
            plural(n, word)
            for n, word in (
                (skipped.moves, "stock move"),
                (skipped.quotes, "quote"),
                (skipped.prices, "price"),
            )
            if n
        ]
        text += f" ({', '.join(stored)} stored already, to be skipped)"
    return text


def _span(first: datetime, last: datetime) -> str:
    if first.date() == last.date():
        return f"{first:%d %b %Y}"
    return f"{first:%d %b %Y} to {last:%d %b %Y}"
