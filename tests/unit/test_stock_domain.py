"""The ledger's rules: on hand from the moves, daily use from recorded use, typo-sized moves."""

from datetime import timedelta

import pytest

from core.domain.actors import Source
from core.domain.stock import (
    MoveKind,
    NewMove,
    StockMove,
    daily_series,
    doubt,
    on_hand,
    usage,
    with_differences,
)
from tests.fakes import NOW


def move(
    kind: MoveKind, quantity: float, hours: float = 0, id_: int = 0, **more: object
) -> StockMove:
    return StockMove(
        "copper",
        kind,
        quantity,
        NOW + timedelta(hours=hours),
        Source.CONSOLE,
        id=id_,
        **more,  # type: ignore[arg-type]
    )


def test_on_hand_is_the_last_count_plus_receipts_minus_uses_after_it() -> None:
    moves = [
        move(MoveKind.RECEIVE, 50, 0, 1),
        move(MoveKind.COUNT, 400, 1, 2),
        move(MoveKind.USE, 30, 2, 3),
        move(MoveKind.RECEIVE, 20, 3, 4),
    ]
    assert on_hand(moves) == 390
    assert on_hand(list(reversed(moves))) == 390  # time order, not list order


def test_an_undone_move_and_its_undo_leave_on_hand_as_before() -> None:
    count = move(MoveKind.COUNT, 400, 0, 1)
    taken_back = move(MoveKind.USE, 30, 1, 2, undone_by=3)
    undo = move(MoveKind.USE, 30, 2, 3, undoes=2)
    assert on_hand([count, taken_back, undo]) == 400
    undone_count = move(MoveKind.COUNT, 10, 3, 4, undone_by=5)
    assert on_hand([count, undone_count, move(MoveKind.COUNT, 10, 4, 5, undoes=4)]) == 400


def test_daily_use_is_zero_filled_up_to_yesterday_and_leaves_today_out() -> None:
    today = NOW.date()
    recorded = [(today - timedelta(days=3), 5.0), (today - timedelta(days=1), 7.0), (today, 99.0)]
    assert daily_series(recorded, today) == [5.0, 0.0, 7.0]
    assert daily_series([], today) == []


def test_recorded_use_counts_from_fourteen_days_else_the_configured_figure() -> None:
    thirteen = usage([10.0] * 13, configured=8.0)
    assert (thirteen.daily, thirteen.spread, thirteen.basis) == (8.0, None, "configured figure")
    fourteen = usage([8.0, 12.0] * 7, configured=8.0)
    assert fourteen.daily == 10.0 and fourteen.spread == pytest.approx(2.0755, rel=1e-3)
    assert fourteen.basis == "recorded use over 14 days"


@pytest.mark.parametrize(
    ("kind", "quantity", "expected", "reason"),
    [
        (MoveKind.USE, 401, 400, "that is more than the stock on hand"),
        (MoveKind.USE, 101, 400, "that is more than 10 days of use at once"),
        (MoveKind.USE, 100, 400, None),
        (MoveKind.COUNT, 299, 400, "that is far from the expected stock"),
        (MoveKind.COUNT, 301, 400, None),
        (MoveKind.COUNT, 50, 0, None),  # nothing expected and no use: a first count
        (MoveKind.RECEIVE, 5000, 400, None),
    ],
)
def test_moves_that_look_like_typos_are_doubted(
    kind: MoveKind, quantity: float, expected: float, reason: str | None
) -> None:
    assert doubt(kind, quantity, expected, daily=10.0 if expected else 0.0) == reason


def test_imported_counts_get_their_difference_from_the_stock_expected_at_their_time() -> None:
    existing = [move(MoveKind.COUNT, 100, 0, 1), move(MoveKind.USE, 10, 5, 2)]
    new = [
        NewMove("copper", MoveKind.COUNT, 95, NOW + timedelta(hours=2), Source.IMPORT),
        NewMove("copper", MoveKind.COUNT, 80, NOW + timedelta(hours=6), Source.IMPORT),
    ]
    first, second = with_differences(existing, new)
    assert first.difference == -5  # 100 counted before it
    assert second.difference == -5  # 95, less the use of 10 in between
