"""Hand-written fakes of the purchasing ports (core/ports_purchasing.py), and its test people
and quotes."""

from __future__ import annotations

import copy
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from types import TracebackType

from core.domain.purchasing import (
    Notice,
    PriceOutlook,
    Purchase,
    PurchaseState,
    StockPosition,
    parse_po_number,
)
from core.materials import MaterialCatalog
from core.models import Material
from core.services.purchasing import PurchasingPolicy, PurchasingService
from tests.fakes import (
    MATERIALS,
    FakeAdviceSource,
    FakeClock,
    FakePendingActionRepo,
    FakePriceRepo,
    FakeStateStore,
)


@dataclass(frozen=True)
class Someone:
    """A Person: user id, name, role and the chat they write in."""

    user_id: int | None
    name: str
    role: str
    chat_id: int | None = None


ANN = Someone(20, "Ann", "buyer", chat_id=20)  # a buyer, in her private chat
BEN = Someone(21, "Ben", "buyer", chat_id=21)
OLGA = Someone(30, "Olga", "approver", chat_id=30)
PAUL = Someone(31, "Paul", "approver", chat_id=31)
ADA = Someone(1, "Ada", "admin", chat_id=1)
VERA = Someone(40, "Vera", "viewer", chat_id=40)
CONSOLE = Someone(None, "console", "admin")
ROOM = -1001234  # the managers' group


@dataclass(frozen=True)
class Break:
    quantity: float
    price: float


@dataclass(frozen=True)
class Terms:
    """A Quote: a vendor's terms for one material."""

    vendor: str
    price: float
    currency: str = "USD"
    rating: float = 4.0
    delivery_days: int = 10
    min_order_qty: float | None = None
    pack_size: float | None = None
    breaks: tuple[Break, ...] = ()
    valid_until: date | None = None


class FakePurchaseRepo:
    def __init__(self) -> None:
        self.stored: dict[int, Purchase] = {}
        self.last_id = 0

    async def add(self, purchase: Purchase) -> Purchase:
        self.last_id += 1
        purchase = replace(purchase, id=self.last_id)
        self.stored[purchase.id] = purchase
        return purchase

    async def get(self, purchase_id: int) -> Purchase | None:
        return self.stored.get(purchase_id)

    async def by_po_number(self, number: str) -> Purchase | None:
        return next((p for p in self.stored.values() if p.po_number == number), None)

    async def save(self, purchase: Purchase, was: PurchaseState) -> bool:
        if self.stored[purchase.id].state is not was:
            return False
        self.stored[purchase.id] = purchase
        return True

    async def next_sequence(self, year: int) -> int:
        taken = [
            parsed[1]
            for p in self.stored.values()
            if p.po_number and (parsed := parse_po_number(p.po_number)) and parsed[0] == year
        ]
        return max(taken, default=0) + 1

    async def in_states(
        self, states: Collection[PurchaseState], material: str | None = None
    ) -> list[Purchase]:
        return [
            p
            for p in self.stored.values()
            if p.state in states and (material is None or p.material == material)
        ]

    async def ordered_between(self, start: datetime, end: datetime) -> list[Purchase]:
        return [
            p
            for p in self.stored.values()
            if p.ordered_at is not None and start <= p.ordered_at < end
        ]

    async def recent(self, limit: int) -> list[Purchase]:
        return sorted(self.stored.values(), key=lambda p: -p.id)[:limit]


@dataclass
class FakeNotices:
    posted: list[Notice] = field(default_factory=list)
    failure: Exception | None = None  # raised by the next post

    async def post(self, notice: Notice) -> None:
        if self.failure is not None:
            raise self.failure
        self.posted.append(notice)

    def to(self, chat: int) -> list[Notice]:
        return [n for n in self.posted if n.chat_id == chat]


@dataclass
class FakeStockFigures:
    positions: dict[str, StockPosition] = field(default_factory=dict)

    async def position(self, material: Material) -> StockPosition | None:
        return self.positions.get(material.key)


@dataclass
class FakeQuotes:
    by_material: dict[str, list[Terms]] = field(default_factory=dict)

    async def quotes(self, material: str) -> Sequence[Terms]:
        return list(self.by_material.get(material, []))


@dataclass
class FakeOutlooks:
    by_material: dict[str, PriceOutlook] = field(default_factory=dict)

    async def outlook(self, material: str) -> PriceOutlook | None:
        return self.by_material.get(material)


@dataclass
class FakeApprovers:
    ids: list[int] = field(default_factory=list)

    async def approvers(self) -> Sequence[int]:
        return list(self.ids)


class FakeWork:
    """A unit of work over the fakes of one FakePurchasing: what its block (and the blocks
    nested in it, which join it) wrote is undone when the outermost block raises."""

    def __init__(self, world: FakePurchasing) -> None:
        self._world = world

    @property
    def purchases(self) -> FakePurchaseRepo:
        return self._world.purchases

    @property
    def state(self) -> FakeStateStore:
        return self._world.state

    @property
    def pending(self) -> FakePendingActionRepo:
        return self._world.pending

    async def __aenter__(self) -> FakeWork:
        world = self._world
        if world.depth == 0:
            world.snapshot = copy.deepcopy(world.written())
        world.depth += 1
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        world = self._world
        world.depth -= 1
        if world.depth > 0:
            return
        if error is None:
            world.commits += 1
        else:
            world.restore(world.snapshot)
            world.rollbacks += 1


@dataclass
class FakePurchasing:
    """Everything the purchasing service talks to, faked, with a unit of work over it."""

    clock: FakeClock = field(default_factory=FakeClock)
    purchases: FakePurchaseRepo = field(default_factory=FakePurchaseRepo)
    state: FakeStateStore = field(default_factory=FakeStateStore)
    notices: FakeNotices = field(default_factory=FakeNotices)
    pending: FakePendingActionRepo = field(default_factory=FakePendingActionRepo)
    stock: FakeStockFigures = field(default_factory=FakeStockFigures)
    quotes: FakeQuotes = field(default_factory=FakeQuotes)
    prices: FakePriceRepo = field(default_factory=FakePriceRepo)
    outlooks: FakeOutlooks = field(default_factory=FakeOutlooks)
    advice: FakeAdviceSource = field(default_factory=FakeAdviceSource)
    approvers: FakeApprovers = field(default_factory=lambda: FakeApprovers([OLGA.user_id or 0]))
    depth: int = 0
    commits: int = 0
    rollbacks: int = 0
    snapshot: tuple[object, ...] = ()

    def written(self) -> tuple[object, ...]:
        return (
            self.purchases.stored,
            self.purchases.last_id,
            self.state.values,
            self.notices.posted,
            self.pending.actions,
        )

    def restore(self, snapshot: tuple[object, ...]) -> None:
        stored, last_id, values, posted, actions = copy.deepcopy(snapshot)
        self.purchases.stored = stored  # type: ignore[assignment]
        self.purchases.last_id = last_id  # type: ignore[assignment]
        self.state.values = values  # type: ignore[assignment]
        self.notices.posted = posted  # type: ignore[assignment]
        self.pending.actions = actions  # type: ignore[assignment]

    def service(self, **policy: object) -> PurchasingService:
        return PurchasingService(
            MaterialCatalog(MATERIALS),
            lambda: FakeWork(self),
            self.stock,
            self.quotes,
            self.prices,
            self.outlooks,
            self.advice,
            self.approvers,
            self.notices,
            self.clock,
            PurchasingPolicy(**policy),  # type: ignore[arg-type]
        )
