"""Times on a chat's own clock: digests keep their local time across daylight-saving changes,
and quiet hours end when the local clock says so."""

import itertools
from datetime import UTC, datetime, time, timedelta

import pytest

from core.domain.local_time import (
    DailyTime,
    QuietHours,
    find_zone,
    local_day,
    next_daily,
    parse_clock,
    parse_quiet_hours,
)
from core.errors import UserError

BERLIN = find_zone("Europe/Berlin")


def utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_the_next_digest_keeps_its_local_time_across_both_daylight_saving_changes() -> None:
    at = time(7, 30)
    # Berlin: CET (UTC+1) until 29 March 2026 02:00, CEST (UTC+2) until 25 October 03:00.
    assert next_daily(at, BERLIN, utc(2026, 3, 28, 7, 0)) == utc(2026, 3, 29, 5, 30)
    assert next_daily(at, BERLIN, utc(2026, 3, 28, 5, 0)) == utc(2026, 3, 28, 6, 30)
    assert next_daily(at, BERLIN, utc(2026, 10, 24, 6, 0)) == utc(2026, 10, 25, 6, 30)
    runs = [utc(2026, 3, 27, 6, 31)]
    for _ in range(3):
        runs.append(next_daily(at, BERLIN, runs[-1]))
    assert [r.astimezone(BERLIN).strftime("%d %H:%M") for r in runs[1:]] == [
        "28 07:30",
        "29 07:30",
        "30 07:30",
    ]
    assert [b - a for a, b in itertools.pairwise(runs[1:])] == [
        timedelta(hours=23),
        timedelta(hours=24),
    ]


def test_a_time_the_clocks_skip_runs_an_hour_later_on_that_day_only() -> None:
    at = time(2, 30)
    skipped = next_daily(at, BERLIN, utc(2026, 3, 28, 12, 0))
    assert skipped.astimezone(BERLIN).strftime("%d %H:%M") == "29 03:30"
    assert next_daily(at, BERLIN, skipped).astimezone(BERLIN).strftime("%d %H:%M") == "30 02:30"
    assert local_day(skipped, BERLIN).day == 29


def test_a_time_that_happens_twice_runs_once_the_first_time() -> None:
    first = next_daily(time(2, 30), BERLIN, utc(2026, 10, 24, 12, 0))
    assert first == utc(2026, 10, 25, 0, 30)  # 02:30 CEST
    assert next_daily(time(2, 30), BERLIN, first) == utc(2026, 10, 26, 1, 30)


def test_quiet_hours_over_midnight_end_on_the_local_morning() -> None:
    quiet = QuietHours(time(22, 0), time(7, 0), BERLIN)
    assert quiet.end_if_quiet(utc(2026, 11, 24, 20, 59)) is None  # 21:59 in Berlin
    assert quiet.end_if_quiet(utc(2026, 11, 24, 21, 0)) == utc(2026, 11, 25, 6, 0)
    assert quiet.end_if_quiet(utc(2026, 11, 25, 2, 0)) == utc(2026, 11, 25, 6, 0)
    assert quiet.end_if_quiet(utc(2026, 11, 25, 6, 0)) is None
    # The night the clocks go back lasts an hour longer in UTC.
    assert quiet.end_if_quiet(utc(2026, 10, 24, 21, 0)) == utc(2026, 10, 25, 6, 0)


def test_quiet_hours_within_a_day() -> None:
    lunch = parse_quiet_hours("12:00-13:30")
    assert lunch.end_if_quiet(utc(2026, 11, 24, 12, 15)) == utc(2026, 11, 24, 13, 30)
    assert lunch.end_if_quiet(utc(2026, 11, 24, 13, 30)) is None
    assert lunch.describe() == "12:00-13:30 UTC"


@pytest.mark.parametrize("text", ["25:00", "7", "07:60", "noon", "-1:00", "07:3"])
def test_a_time_that_is_no_time_of_day_is_refused_in_one_line(text: str) -> None:
    with pytest.raises(UserError, match=r"not a time of day: use HH:MM .* e\.g\. 07:30"):
        parse_clock(text)


def test_times_are_read_as_people_write_them() -> None:
    assert parse_clock("7:05") == parse_clock("07.05") == parse_clock("7h05") == time(7, 5)


def test_time_zones_are_iana_names_in_any_case_and_a_typo_gets_a_suggestion() -> None:
    assert find_zone("europe/berlin").key == "Europe/Berlin"
    assert find_zone(None).key == "UTC"
    with pytest.raises(UserError, match=r"Unknown time zone 'Europe/Berln'\. Did you mean "):
        find_zone("Europe/Berln")
    with pytest.raises(UserError, match=r"Use an IANA name such as Europe/Berlin"):
        find_zone("Mars/Olympus")


def test_quiet_hours_must_last_some_time_and_look_like_a_span() -> None:
    with pytest.raises(UserError, match="would last no time at all"):
        parse_quiet_hours("07:00-07:00")
    with pytest.raises(UserError, match="not a span of hours: use HH:MM-HH:MM"):
        parse_quiet_hours("22:00")


def test_a_daily_time_says_where_its_clock_is() -> None:
    assert DailyTime(time(7, 30), BERLIN).describe() == "07:30 Europe/Berlin"
