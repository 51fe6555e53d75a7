"""Recording vendor quotes: a newer quote from the same vendor for the same material
supersedes the old one in the ranking, and the old one stays in the history."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from core.access import Permission, require
from core.domain.actors import Actor
from core.domain.quotes import QuoteTerms, complete, vendor_key
from core.errors import UserError
from core.materials import MaterialCatalog
from core.models import VendorQuote
from core.ports import Clock, UnitOfWork

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecordedQuote:
    quote: VendorQuote
    superseded: VendorQuote | None
    assumed: tuple[str, ...]


class QuoteService:
    def __init__(
        self, catalog: MaterialCatalog, unit_of_work: Callable[[], UnitOfWork], clock: Clock
    ) -> None:
        self._catalog = catalog
        self._uow = unit_of_work
        self._clock = clock

    async def record(self, actor: Actor, terms: QuoteTerms) -> RecordedQuote:
        """Stores the quote, what it left out taken from the vendor's previous quote or the
        material's figures."""
        require(actor.role, Permission.RECORD, "/quote")
        material = self._catalog.get(terms.material)
        now = self._clock.now()
        if terms.valid_until is not None and terms.valid_until < now.date():
            raise UserError(
                f"The quote would be valid until {terms.valid_until:%d %b %Y}, which has "
                "passed: give a later date, or leave it out."
            )
        async with self._uow() as uow:
            previous = {
                vendor_key(q.vendor): q for q in await uow.vendors.quotes(material.key)
            }.get(vendor_key(terms.vendor))
            item = await uow.inventory.item(material.key)
            lead = item.lead_time_days if item is not None else None
            done = complete(terms, previous, material.currency, lead, now)
            await uow.vendors.add([done.quote], actor.user_id, actor.name, actor.source.value)
        log.info("Quote: %s %s %g by %s", done.quote.vendor, material.key, terms.price, actor.name)
        return RecordedQuote(done.quote, previous, done.assumed)
