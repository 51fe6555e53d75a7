"""Vendor quotes as buyers record them: which vendor is which, and what a quote leaves out.

A quote that leaves out its delivery time or rating takes them from the vendor's previous quote
for the material, or else the material's lead time and a neutral rating of 3."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from core.errors import UserError
from core.models import PriceBreak, VendorQuote

DEFAULT_RATING = 3.0


def vendor_key(name: str) -> str:
    """One key per vendor however the name is cased or spaced: 'ACME  Metals' = 'Acme Metals'."""
    return " ".join(name.split()).casefold()


@dataclass(frozen=True)
class QuoteTerms:
    """A quote as given (by a command or a file row); None is "not said"."""

    vendor: str
    material: str
    price: float
    currency: str | None = None
    delivery_days: int | None = None
    min_order_qty: float | None = None
    pack_size: float | None = None
    valid_until: date | None = None
    rating: float | None = None
    breaks: tuple[PriceBreak, ...] = ()
    quoted_at: datetime | None = None


@dataclass(frozen=True)
class Completed:
    quote: VendorQuote
    assumed: tuple[str, ...]  # what was filled in, for the answer ("delivery 21 days: ...")


def complete(
    terms: QuoteTerms,
    previous: VendorQuote | None,
    currency: str,
    lead_time_days: int | None,
    now: datetime,
) -> Completed:
    """The quote with what it left out filled in; raises UserError for values that cannot
    be (a price not above zero, a rating outside 0-5, ...)."""
    if terms.price <= 0:
        raise UserError(f"The price must be above 0, got {terms.price:g}.")
    if terms.rating is not None and not 0 <= terms.rating <= 5:
        raise UserError(f"A rating is from 0 to 5, got {terms.rating:g}.")
    for name, value in (("min", terms.min_order_qty), ("pack", terms.pack_size)):
        if value is not None and value <= 0:
            raise UserError(f"{name} must be above 0, got {value:g}.")
    assumed = []
    delivery = terms.delivery_days
    if delivery is None:
        if previous is not None:
            delivery = previous.delivery_days
            assumed.append(f"delivery {delivery} days as quoted before")
        else:
            delivery = lead_time_days or 0
            assumed.append(f"delivery {delivery} days, the material's lead time")
    rating = terms.rating
    if rating is None:
        if previous is not None:
            rating = previous.rating
            assumed.append(f"rating {rating:g} as before")
        else:
            rating = DEFAULT_RATING
            assumed.append(f"rating {rating:g} (unrated)")
    # the vendor keeps the name it was first quoted under, however it is typed later
    vendor = previous.vendor if previous is not None else " ".join(terms.vendor.split())
    quote = VendorQuote(
        vendor,
        terms.material,
        terms.price,
        terms.currency or currency,
        rating,
        delivery,
        terms.min_order_qty,
        terms.valid_until,
        terms.pack_size,
        terms.breaks,
        terms.quoted_at or now,
    )
    return Completed(quote, tuple(assumed))
