"""Times of day on a chat's own clock: when its daily digest is due and when its quiet hours
end. A chat names its time zone (IANA, such as Europe/Berlin); every moment computed here is
UTC, found from the local date and time, so a daylight-saving change keeps the local time.

On the day the clocks skip a time (spring forward: 02:30 does not exist in Berlin on the last
Sunday of March) that time is taken as the offset before the change gives it, which the clock
shows as an hour later (03:30); on the day a time happens twice (fall back) the first one counts.
"""

from __future__ import annotations

import difflib
import functools
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, available_timezones

from core.errors import UserError

DEFAULT_ZONE = "UTC"
_CLOCK = re.compile(r"^(\d{1,2})[:.h](\d{2})$")
ZONE_EXAMPLES = "Europe/Berlin, America/New_York, Asia/Shanghai or UTC"


def parse_clock(text: str) -> time:
    """'07:30' (or '7:30', '07.30', '7h30') as a time of day; raises UserError naming what fits."""
    match = _CLOCK.match(text.strip())
    if match is not None:
        hour, minute = int(match.group(1)), int(match.group(2))
        if hour < 24 and minute < 60:
            return time(hour, minute)
    raise UserError(
        f"'{text}' is not a time of day: use HH:MM on the 24-hour clock, from 00:00 to 23:59, "
        "e.g. 07:30."
    )


@functools.cache
def _zone_names() -> dict[str, str]:
    return {name.lower(): name for name in available_timezones()}


def find_zone(text: str | None) -> ZoneInfo:
    """The IANA time zone `text` names, in any case (None: UTC); raises UserError with the
    closest name and examples."""
    if text is None:
        return ZoneInfo(DEFAULT_ZONE)
    names = _zone_names()
    name = names.get(text.strip().lower())
    if name is not None:
        return ZoneInfo(name)
    close = difflib.get_close_matches(text.strip().lower(), list(names), n=1, cutoff=0.75)
    hint = f" Did you mean {names[close[0]]}?" if close else ""
    raise UserError(f"Unknown time zone '{text}'.{hint} Use an IANA name such as {ZONE_EXAMPLES}.")


def clock_text(at: time) -> str:
    return f"{at:%H:%M}"


def on_local_clock(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The moment (UTC) the clock in `zone` shows `at` on `day`."""
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def next_daily(at: time, zone: ZoneInfo, after: datetime) -> datetime:
    """The first moment (UTC) after `after` when the clock in `zone` shows `at`."""
    day = after.astimezone(zone).date()
    while True:
        moment = on_local_clock(day, at, zone)
        if moment > after:
            return moment
        day += timedelta(days=1)


def local_day(moment: datetime, zone: ZoneInfo) -> date:
    """The date the clock in `zone` shows at `moment`."""
    return moment.astimezone(zone).date()


@dataclass(frozen=True)
class DailyTime:
    """A time of day on a chat's clock: when its digest is due."""

    at: time
    zone: ZoneInfo

    def next_after(self, moment: datetime) -> datetime:
        return next_daily(self.at, self.zone, moment)

    def describe(self) -> str:
        return f"{clock_text(self.at)} {self.zone.key}"


@dataclass(frozen=True)
class QuietHours:
    """Hours of a chat's day when only CRITICAL alerts may reach it; `starts` after `ends`
    spans midnight (22:00-07:00)."""

    starts: time
    ends: time
    zone: ZoneInfo

    def __post_init__(self) -> None:
        if self.starts == self.ends:
            raise UserError(
                f"Quiet hours from {clock_text(self.starts)} to {clock_text(self.ends)} would "
                "last no time at all: give two different times, e.g. /quiet 22:00-07:00."
            )

    def end_if_quiet(self, moment: datetime) -> datetime | None:
        """When `moment` falls in the quiet hours, the moment (UTC) they end; else None."""
        local = moment.astimezone(self.zone)
        now = local.time().replace(tzinfo=None)
        today = local.date()
        if self.starts < self.ends:
            quiet = self.starts <= now < self.ends
            end_day = today
        else:
            quiet = now >= self.starts or now < self.ends
            end_day = today + timedelta(days=1) if now >= self.starts else today
        if not quiet:
            return None
        return on_local_clock(end_day, self.ends, self.zone)

    def describe(self) -> str:
        return f"{clock_text(self.starts)}-{clock_text(self.ends)} {self.zone.key}"


def parse_quiet_hours(span: str, zone: str | None = None) -> QuietHours:
    """'22:00-07:00' in `zone` (default UTC); raises UserError naming what fits."""
    starts, dash, ends = span.strip().partition("-")
    if not dash or not starts or not ends:
        raise UserError(
            f"'{span}' is not a span of hours: use HH:MM-HH:MM, e.g. /quiet 22:00-07:00 "
            "Europe/Berlin."
        )
    return QuietHours(parse_clock(starts), parse_clock(ends), find_zone(zone))
