"""Recording stock moves: a receipt, a use or a count is one unit of work (the move, and the
LOW_INVENTORY alert it may raise with that alert's deliveries). A move that looks like a typo
is kept as a pending action until its owner confirms it; a booked move can be undone, once,
within UNDO_WINDOW, by whoever booked it or an admin. A receipt whose reference names a
purchase order ('PO-2026-0001') is counted on that order, and taken off it when undone
(`orders`, the OrderReceipts port): in the same unit of work."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from core.access import Permission, require
from core.domain.actors import Actor
from core.domain.pending import PendingAction, PendingKind, PendingState
from core.domain.purchasing import Purchase
from core.domain.stock import CONFIRM_WINDOW, UNDO_WINDOW, MoveKind, NewMove, StockMove, doubt
from core.errors import UserError
from core.inventory import InventoryService, StockStatus
from core.materials import MaterialCatalog
from core.models import Alert, Material, Role
from core.ports import Clock, OrderReceipts, UnitOfWork
from core.services.pending import answerable

log = logging.getLogger(__name__)

MAX_MOVES = 100
VERB = {MoveKind.RECEIVE: "receive", MoveKind.USE: "use", MoveKind.COUNT: "count"}


class StockAlerts(Protocol):
    """Raises LOW_INVENTORY for a material's stock when it calls for one (AlertMonitor)."""

    async def check_stock_status(self, status: StockStatus) -> Alert | None: ...


@dataclass(frozen=True)
class Booked:
    """A move recorded: the stock before and after it, and the alert it raised."""

    move: StockMove
    material: Material
    before: StockStatus
    after: StockStatus
    alert: Alert | None = None
    order: Purchase | None = None  # the purchase order a receipt was booked against


@dataclass(frozen=True)
class ToConfirm:
    """A move not booked yet: it looks like a typo, and waits for Confirm (pending action
    `action_id`)."""

    action_id: int
    material: Material
    kind: MoveKind
    quantity: float
    reason: str
    status: StockStatus


@dataclass(frozen=True)
class Undone:
    """A move taken back by `reversal`."""

    original: StockMove
    reversal: StockMove
    material: Material
    before: StockStatus
    after: StockStatus
    alert: Alert | None = None
    order: Purchase | None = None  # the purchase order the undone receipt came off


class StockLedger:
    """Books receipts, uses and counts; confirms, cancels and undoes them; lists them."""

    def __init__(
        self,
        catalog: MaterialCatalog,
        unit_of_work: Callable[[], UnitOfWork],
        inventory: InventoryService,
        clock: Clock,
        alerts: StockAlerts | None = None,
        orders: OrderReceipts | None = None,
    ) -> None:
        self._catalog = catalog
        self._uow = unit_of_work
        self._inventory = inventory
        self._clock = clock
        self._alerts = alerts
        self._orders = orders

    async def record(
        self,
        actor: Actor,
        material: Material,
        kind: MoveKind,
        quantity: float,
        reference: str | None = None,
        note: str | None = None,
    ) -> Booked | ToConfirm:
        """Books the move, or keeps it for confirmation when it looks like a typo."""
        require(actor.role, Permission.RECORD, f"/{VERB[kind]}")
        if quantity < 0 or (quantity == 0 and kind is not MoveKind.COUNT):
            raise UserError(
                f"The quantity must be above 0, got {quantity:g}; a mistaken move is taken back "
                "with its Undo button."
            )
        async with self._uow() as uow:
            before = await self._inventory.status(material)
            reason = doubt(kind, quantity, before.item.on_hand, before.daily_use)
            first_count = kind is MoveKind.COUNT and before.item.on_hand == 0
            if first_count and not await uow.stock.recent(1, material.key):
                reason = None  # a new material's first count sets its stock: nothing to doubt
            if kind is MoveKind.RECEIVE and self._orders is not None:
                reason = await self._orders.check_receipt(material, quantity, reference) or reason
            if reason is None:
                return await self._book(
                    uow, actor, material, kind, quantity, reference, note, before
                )
            now = self._clock.now()
            action = await uow.pending.add(
                PendingAction(
                    PendingKind.MOVE,
                    {
                        "material": material.key,
                        "kind": kind.value,
                        "quantity": quantity,
                        "reference": reference,
                        "note": note,
                    },
                    actor.user_id,
                    actor.chat_id,
                    now,
                    now + CONFIRM_WINDOW,
                )
            )
            return ToConfirm(action.id, material, kind, quantity, reason, before)

    async def confirm(self, actor: Actor, action_id: int) -> Booked:
        """Books a move kept for confirmation; its owner or an admin may, once, in time."""
        require(actor.role, Permission.RECORD, "/confirm")
        async with self._uow() as uow:
            action = await answerable(
                uow.pending, actor, action_id, PendingKind.MOVE, self._clock.now()
            )
            if not await uow.pending.settle(action_id, PendingState.DONE, self._clock.now()):
                raise UserError(f"Move {action_id} has been answered already.")
            payload = action.payload
            material = self._catalog.get(payload["material"])
            return await self._book(
                uow,
                actor,
                material,
                MoveKind(payload["kind"]),
                float(payload["quantity"]),
                payload.get("reference"),
                payload.get("note"),
            )

    async def discard(self, actor: Actor, action_id: int) -> PendingAction:
        """Cancels a pending action (a move to confirm, a file to import)."""
        require(actor.role, Permission.RECORD, "/discard")
        async with self._uow() as uow:
            action = await answerable(uow.pending, actor, action_id, None, self._clock.now())
            if not await uow.pending.settle(action_id, PendingState.CANCELLED, self._clock.now()):
                raise UserError("That has been answered already.")
            return action

    async def undo(self, actor: Actor, move_id: int) -> Undone:
        """Takes a move back with a reversing move: once, within UNDO_WINDOW, by the person
        who booked it or an admin."""
        require(actor.role, Permission.RECORD, "/undo")
        now = self._clock.now()
        async with self._uow() as uow:
            move = await uow.stock.get(move_id)
            if move is None:
                raise UserError(f"There is no move #{move_id}. /moves lists the last ones.")
            if move.undoes is not None:
                raise UserError(
                    f"Move #{move_id} is itself the undo of #{move.undoes} and cannot be undone."
                )
            if move.undone_by is not None:
                raise UserError(f"Move #{move_id} was undone already (by #{move.undone_by}).")
            if not (actor.same_person(move.user_id) or actor.role is Role.ADMIN):
                raise UserError(
                    f"Only {move.user_name or 'the person who booked it'} or an admin may undo "
                    f"move #{move_id}."
                )
            if now - move.at > UNDO_WINDOW:
                raise UserError(
                    f"Undo works for {UNDO_WINDOW.seconds // 60} minutes after a move, and "
                    f"#{move_id} is older: book a correcting move instead (/receive, /use or "
                    "/count)."
                )
            material = self._catalog.get(move.material)
            before = await self._inventory.status(material)
            reversal = await uow.stock.add(
                NewMove(
                    move.material,
                    move.kind,
                    move.quantity,
                    now,
                    actor.source,
                    actor.user_id,
                    actor.name,
                    actor.chat_id,
                    move.reference,
                    f"undo of #{move.id}",
                    None if move.difference is None else -move.difference,
                    undoes=move.id,
                )
            )
            if reversal is None:
                raise UserError(f"Move #{move_id} was undone already.")
            order = await self._orders.receipt_undone(move) if self._orders else None
            after = await self._inventory.status(material)
            alert = await self._alerts.check_stock_status(after) if self._alerts else None
        log.info("Move #%s undone by #%s (%s)", move.id, reversal.id, actor.name)
        return Undone(move, reversal, material, before, after, alert, order)

    async def moves(self, material: Material | None, limit: int) -> list[StockMove]:
        """The newest `limit` moves (at most MAX_MOVES), of one material or all."""
        async with self._uow() as uow:
            return await uow.stock.recent(min(limit, MAX_MOVES), material.key if material else None)

    async def _book(
        self,
        uow: UnitOfWork,
        actor: Actor,
        material: Material,
        kind: MoveKind,
        quantity: float,
        reference: str | None,
        note: str | None,
        before: StockStatus | None = None,
    ) -> Booked:
        before = before or await self._inventory.status(material)
        difference = quantity - before.item.on_hand if kind is MoveKind.COUNT else None
        move = await uow.stock.add(
            NewMove(
                material.key,
                kind,
                quantity,
                self._clock.now(),
                actor.source,
                actor.user_id,
                actor.name,
                actor.chat_id,
                reference,
                note,
                difference,
            )
        )
        assert move is not None  # only an undo can be refused
        order = await self._orders.receipt_booked(move) if self._orders else None
        after = await self._inventory.status(material)
        alert = await self._alerts.check_stock_status(after) if self._alerts else None
        log.info(
            "Stock move #%s: %s %s %g %s by %s",
            move.id,
            material.key,
            kind.value,
            quantity,
            material.unit,
            actor.name,
        )
        return Booked(move, material, before, after, alert, order)
