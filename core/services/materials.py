"""Adding and changing materials (admins): a material and its configured figures (lead time,
minimum, daily use) are one unit of work; the catalog everyone resolves names with follows."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

from core.access import Permission, require
from core.domain.actors import Actor
from core.errors import UserError
from core.materials import MaterialCatalog
from core.models import InventoryItem, Material
from core.ports import Clock, UnitOfWork

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class Figures:
    """A material's configured figures; None leaves one as it is."""

    lead_time_days: int | None = None
    minimum: float | None = None
    daily_use: float | None = None


class MaterialService:
    def __init__(
        self, catalog: MaterialCatalog, unit_of_work: Callable[[], UnitOfWork], clock: Clock
    ) -> None:
        self._catalog = catalog
        self._uow = unit_of_work
        self._clock = clock

    def check_names(self, material: Material) -> None:
        """Raises UserError when the material's key, name or an alias names another one."""
        for name in (material.key, material.name, *material.aliases):
            owner = self._catalog.owner_of(name)
            if owner is not None and owner.key != material.key:
                raise UserError(f"'{name}' names {owner.name} ({owner.key}) already.")

    async def add(self, actor: Actor, material: Material, figures: Figures) -> Material:
        require(actor.role, Permission.ADMIN, "/material add")
        if material.key in self._catalog.keys:
            raise UserError(
                f"{material.key} exists already: /material set {material.key} ... changes it."
            )
        self.check_names(material)
        await self.save([material], {material.key: figures})
        self._catalog.put(material)
        log.info("Material %s added by %s", material.key, actor.name)
        return material

    async def change(
        self,
        actor: Actor,
        material: Material,
        figures: Figures,
        aliases: tuple[str, ...] | None = None,
    ) -> tuple[Material, InventoryItem]:
        """Sets some of a material's figures, or its aliases; returns it as it is now."""
        require(actor.role, Permission.ADMIN, "/material set")
        if aliases is not None:
            material = replace(material, aliases=aliases)
            self.check_names(material)
        await self.save([material], {material.key: figures})
        self._catalog.put(material)
        log.info("Material %s changed by %s", material.key, actor.name)
        async with self._uow() as uow:
            item = await uow.inventory.item(material.key)
        assert item is not None  # saved just now
        return material, item

    async def save(self, materials: Sequence[Material], figures: dict[str, Figures]) -> None:
        """Stores materials and their figures in the unit of work open (or a new one); the
        caller puts them in the catalog once that has committed."""
        now = self._clock.now()
        async with self._uow() as uow:
            items = {i.material: i for i in await uow.inventory.all()}
            for material in materials:
                await uow.materials.upsert(material)
                given = figures.get(material.key, Figures())
                item = items.get(material.key) or InventoryItem(
                    material.key, 0.0, material.unit, 0.0, 0.0, 0, now
                )
                await uow.inventory.upsert(
                    replace(
                        item,
                        unit=material.unit,
                        lead_time_days=_kept(given.lead_time_days, item.lead_time_days),
                        minimum=_kept(given.minimum, item.minimum),
                        daily_consumption=_kept(given.daily_use, item.daily_consumption),
                        updated_at=now,
                    )
                )


def _kept(new: T | None, old: T) -> T:
    return old if new is None else new
