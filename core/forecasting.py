"""Forecasts as the bot keeps and shows them, the advice drawn from them, and the service that
retrains them.

A forecast says no more than its model has shown. It carries the accuracy measured on the
model's own past forecasts against the naive one (the last known price), and the advice only
signals a price move that stands outside the forecast's own 95% interval; stock that has reached
its reorder point means BUY NOW whatever the price.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd

from core.alert_rules import amount
from core.errors import UserError
from core.forecast_model import (
    ForecastConfig,
    ModelForecast,
    clean_history,
    combine,
    naive_run,
    origin_rows,
    schedule_step,
    training_windows,
)
from core.inventory import InventoryService, StockLevel, StockStatus
from core.materials import MaterialCatalog
from core.models import Advice, CurrentAdvice, Material
from core.ports import Clock, ForecastEngine, ForecastRepo, PriceRepo
from core.wording import percent, plural

log = logging.getLogger(__name__)

ACCURACY_WINDOW = 60
CHART_DAYS = 60
MIN_HISTORY_ROWS = 40
RECORD_BEING_BUILT = (
    "its record is being built: its past forecasts are being fitted in the background, so "
    "ask again in a few minutes for its own forecast and track record"
)


def lookback(config: ForecastConfig) -> timedelta:
    """How far back prices are read: the training window and the history the range is
    calibrated on (its rows are trading days at most, 5 a week)."""
    history_days = max(config.calib_days, config.history_rows * 7 // 5)
    return timedelta(days=config.window_days + history_days + 30)


async def daily_close_series(prices: PriceRepo, material: str, since: date) -> pd.Series:
    """The material's daily closing prices from `since` on, as a date-indexed series."""
    closes = await prices.daily_closes(material, since)
    return pd.Series(
        [price for _, price in closes],
        index=pd.DatetimeIndex([pd.Timestamp(day) for day, _ in closes]),
        dtype=float,
    )


@dataclass(frozen=True)
class Accuracy:
    """How the model's last forecasts fared at the horizon, in percent of the price."""

    forecasts: int
    mae_pct: float
    naive_mae_pct: float
    coverage_pct: float

    @property
    def ratio(self) -> float:
        """Model error over naive error: at most 1 means no worse than doing nothing."""
        return self.mae_pct / self.naive_mae_pct if self.naive_mae_pct else 1.0


@dataclass(frozen=True)
class Forecast:
    """A material's forecast for the days after its last daily price, as stored."""

    material: str
    made_at: datetime
    last_day: date
    last_price: float
    days: tuple[date, ...]
    yhat: tuple[float, ...]
    lower: tuple[float, ...]
    upper: tuple[float, ...]
    method: str
    reason: str
    training_start: date
    training_end: date
    settings: dict[str, Any]
    accuracy: Accuracy | None = None
    # The naive forecast with its calibrated range, given at once while the model's record is
    # built in the background; never stored.
    provisional: bool = False

    @property
    def horizon(self) -> int:
        return len(self.days)

    def change_pct(self, price: float) -> float:
        return (price / self.last_price - 1.0) * 100.0

    @property
    def expected_change_pct(self) -> float:
        return self.change_pct(self.yhat[-1])

    @property
    def band_pct(self) -> tuple[float, float]:
        """The 95% interval of the change by the horizon."""
        return self.change_pct(self.lower[-1]), self.change_pct(self.upper[-1])

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["made_at"] = self.made_at.isoformat()
        for key in ("last_day", "training_start", "training_end"):
            data[key] = data[key].isoformat()
        data["days"] = [d.isoformat() for d in self.days]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Forecast:
        accuracy = data.get("accuracy")
        return cls(
            material=data["material"],
            made_at=datetime.fromisoformat(data["made_at"]),
            last_day=date.fromisoformat(data["last_day"]),
            last_price=float(data["last_price"]),
            days=tuple(date.fromisoformat(d) for d in data["days"]),
            yhat=tuple(data["yhat"]),
            lower=tuple(data["lower"]),
            upper=tuple(data["upper"]),
            method=data["method"],
            reason=data["reason"],
            training_start=date.fromisoformat(data["training_start"]),
            training_end=date.fromisoformat(data["training_end"]),
            settings=data["settings"],
            accuracy=Accuracy(**accuracy) if accuracy else None,
            provisional=bool(data.get("provisional", False)),
        )


@dataclass(frozen=True)
class Recommendation:
    advice: Advice
    reason: str


def _pct(value: float) -> str:
    return percent(value)


def _day(day: date) -> str:
    return f"{day.day} {day:%b}"


def describe_move(forecast: Forecast) -> str:
    """'Expected +3.1% by 2 Dec (95%: +0.8% to +5.4%)'."""
    low, high = forecast.band_pct
    return (
        f"Expected {_pct(forecast.expected_change_pct)} by {_day(forecast.days[-1])} "
        f"(95%: {_pct(low)} to {_pct(high)})"
    )


def describe_cover(stock: StockStatus) -> str:
    if stock.days_of_cover is None:
        return f"{stock.material.name} is not being used"
    return (
        f"stock covers {plural(stock.days_of_cover, 'day')} against a "
        f"{stock.item.lead_time_days}-day lead time"
    )


def describe_shortfall(stock: StockStatus) -> str:
    """'Stock is below its minimum (95 t against 120 t)', or at it, or at or below the
    safety stock or the reorder point, whichever the level is about."""
    item = stock.item
    if stock.level is StockLevel.CRITICAL:
        if stock.safety_stock > item.minimum:
            floor, limit = "safety stock", stock.safety_stock
        else:
            floor, limit = "minimum", item.minimum
    else:
        floor, limit = "reorder point", stock.reorder_point
    where = "at" if math.isclose(item.on_hand, limit) else "below"
    return (
        f"Stock is {where} its {floor} ({amount(item.on_hand)} {item.unit} against "
        f"{amount(limit)} {item.unit})"
    )


def recommend(
    forecast: Forecast, stock: StockStatus | None, threshold_pct: float
) -> Recommendation:
    """BUY NOW / WAIT / MONITOR with a one-line reason a buyer understands.

    Stock at or below its reorder point (cover under lead time plus safety stock) is BUY NOW
    whatever the price. Otherwise an expected rise of at least `threshold_pct` is BUY NOW and a
    fall as large is WAIT, but only when the whole 95% interval lies on that side of today's
    price and the model has not done worse than the naive forecast: a move inside the
    forecast's own uncertainty is no signal.
    """
    move = describe_move(forecast)
    cover = f"; {describe_cover(stock)}" if stock is not None else ""
    if stock is not None and stock.is_low:
        return Recommendation(
            Advice.BUY_NOW,
            f"{describe_shortfall(stock)}: {describe_cover(stock)}, so buy now whatever the "
            f"price. {move}.",
        )
    change = forecast.expected_change_pct
    low, high = forecast.band_pct
    trusted = forecast.accuracy is not None and forecast.accuracy.ratio <= 1.0
    if trusted and change >= threshold_pct and low > 0:
        return Recommendation(Advice.BUY_NOW, f"{move}: prices are likely to rise{cover}.")
    if trusted and change <= -threshold_pct and high < 0:
        return Recommendation(Advice.WAIT, f"{move}: prices are likely to fall{cover}.")
    if abs(change) >= threshold_pct:
        return Recommendation(
            Advice.MONITOR, f"{move}: the range includes no change, so no signal{cover}."
        )
    return Recommendation(
        Advice.MONITOR, f"{move}: within the ±{threshold_pct:g}% that would call for action{cover}."
    )


def measure_accuracy(
    closes: pd.Series,
    checks: Sequence[tuple[date, float, float, float]],
    horizon: int,
    limit: int = ACCURACY_WINDOW,
) -> Accuracy | None:
    """Scores past forecasts (origin day, predicted price, lower, upper at the horizon) against
    the daily prices `closes`; the newest `limit` that can be scored count."""
    series = clean_history(closes)
    position = {day.date(): row for row, day in enumerate(series.index)}
    prices = series.to_numpy(dtype=float)
    scored = []
    for origin, yhat, lower, upper in sorted(checks, reverse=True):
        row = position.get(origin)
        if row is None or row + horizon >= len(prices):
            continue
        naive, actual = prices[row], prices[row + horizon]
        scored.append(
            (abs(actual - yhat) / naive, abs(actual - naive) / naive, lower <= actual <= upper)
        )
        if len(scored) == limit:
            break
    if not scored:
        return None
    count = len(scored)
    return Accuracy(
        count,
        100 * sum(s[0] for s in scored) / count,
        100 * sum(s[1] for s in scored) / count,
        100 * sum(s[2] for s in scored) / count,
    )


@dataclass(frozen=True)
class Outlook:
    """What /forecast shows: the forecast, the advice, and the recent prices for the chart."""

    material: Material
    forecast: Forecast
    recommendation: Recommendation
    recent: list[tuple[date, float]]


class ForecastService:
    """Retrains each material's forecast (fits in the engine's worker processes) and answers
    "where is the price going, and should we buy?"."""

    def __init__(
        self,
        catalog: MaterialCatalog,
        prices: PriceRepo,
        forecasts: ForecastRepo,
        engine: ForecastEngine,
        inventory: InventoryService,
        clock: Clock,
        horizon: int,
        threshold_pct: float,
        max_age: timedelta = timedelta(hours=2),
        config: ForecastConfig | None = None,
    ) -> None:
        self._catalog = catalog
        self._prices = prices
        self._forecasts = forecasts
        self._engine = engine
        self._inventory = inventory
        self._clock = clock
        self.horizon = horizon
        self._threshold = threshold_pct
        self._max_age = max_age
        self._config = replace(config or ForecastConfig(), threshold=threshold_pct / 100)
        self._locks = {m.key: asyncio.Lock() for m in catalog}
        self._building: dict[str, asyncio.Task[Forecast | None]] = {}

    async def _closes(self, material: Material) -> pd.Series:
        since = self._clock.now().date() - lookback(self._config)
        return await daily_close_series(self._prices, material.key, since)

    async def retrain(self, material: Material) -> Forecast | None:
        """Fits, calibrates and stores a new forecast; None when the history is too short.
        A material without enough past forecasts first gets them backfilled."""
        async with self._locks[material.key]:
            closes = await self._closes(material)
            if len(closes) < MIN_HISTORY_ROWS:
                return None
            await self._backfill(material, closes)
            past = await self._forecasts.runs(material.key, self.horizon)
            run, model = await self._engine.retrain(closes, past, self.horizon, self._config)
            checks = await self._forecasts.checks(material.key, self.horizon)
            forecast = self._record(
                material, closes, model, measure_accuracy(closes, checks, self.horizon)
            )
            await self._forecasts.save(run, forecast, backfilled=False)
            log.info(
                "Retrained %s: %s, expected %+.1f%% in %d days (%s)",
                material.key,
                forecast.method,
                forecast.expected_change_pct,
                self.horizon,
                "no accuracy yet"
                if forecast.accuracy is None
                else f"error {forecast.accuracy.mae_pct:.1f}% vs naive "
                f"{forecast.accuracy.naive_mae_pct:.1f}%",
            )
            return forecast

    async def _backfill(self, material: Material, closes: pd.Series) -> None:
        """Fits the model at past weekly origins it has no run for, while it has fewer past
        runs than it needs to be judged, and stores the forecasts it would have made."""
        stored = await self._forecasts.runs(material.key, self.horizon)
        if len(stored) >= self._config.min_runs:
            return
        step = schedule_step(pd.DatetimeIndex(closes.index))
        count = self._config.calib_days // 7 + 1  # weekly origins in the calibration window
        known = {run.origin for run in stored}
        rows = [
            row
            for row in origin_rows(len(closes), self.horizon, count, step)
            if closes.index[row] not in known
        ]
        if not rows:
            return
        log.info("Backfilling %d past forecasts for %s", len(rows), material.key)
        windows = training_windows(closes, rows, self._config)
        runs = await self._engine.fit(windows, self.horizon, self._config)
        everything = sorted([*stored, *runs], key=lambda r: r.origin)
        row_of = {day: row for row, day in enumerate(closes.index)}
        all_rows = [row_of[r.origin] for r in everything]
        replayed = await self._engine.replay(closes, everything, all_rows, self._config)
        made = {r.origin: r for r in runs}
        for run, model in zip(everything, replayed, strict=True):
            if run.origin in made:
                window = closes[closes.index <= run.origin]
                await self._forecasts.save(
                    run, self._record(material, window, model, None), backfilled=True
                )

    def _record(
        self,
        material: Material,
        closes: pd.Series,
        model: ModelForecast,
        accuracy: Accuracy | None,
    ) -> Forecast:
        trained = closes[
            closes.index > closes.index[-1] - pd.Timedelta(days=self._config.window_days)
        ]
        return Forecast(
            material=material.key,
            made_at=self._clock.now(),
            last_day=model.last_date.date(),
            last_price=model.last_price,
            days=tuple(d.date() for d in model.dates),
            yhat=model.yhat,
            lower=model.lower,
            upper=model.upper,
            method=model.method,
            reason=model.reason,
            training_start=trained.index[0].date(),
            training_end=trained.index[-1].date(),
            settings={
                "model": "Prophet on log prices",
                "training_days": self._config.window_days,
                "horizon_days": self.horizon,
                "interval": "95% conformal on volatility-scaled past errors",
                "calibration_forecasts": model.calibration_runs,
            },
            accuracy=accuracy,
        )

    async def retrain_all(self) -> list[Forecast]:
        """Retrains every material at once (the engine's pool bounds how many fit together)."""
        results = await asyncio.gather(
            *(self.retrain(m) for m in self._catalog), return_exceptions=True
        )
        forecasts = []
        for material, result in zip(self._catalog, results, strict=True):
            if isinstance(result, BaseException):
                log.error("Retraining %s failed: %r", material.key, result)
            elif result is not None:
                forecasts.append(result)
        return forecasts

    async def latest(self, material: Material, closes: pd.Series) -> Forecast | None:
        """The stored forecast, refitted now when it is older than `max_age` (the schedule
        keeps it fresher than that while the bot runs; the console has no schedule) unless a
        retrain of it is under way. With none stored yet (a new material, a fresh database),
        the naive forecast with its calibrated range at once, while the model's record (a fit
        at each past weekly origin, minutes of work) is built in the background: no chat
        waits for it. None when the history is too short to forecast."""
        forecast = await self._forecasts.latest(material.key, self.horizon)
        if forecast is not None and self._clock.now() - forecast.made_at <= self._max_age:
            return forecast
        if forecast is not None and self._locks[material.key].locked():
            return forecast  # being retrained right now
        if forecast is not None:
            return await self.retrain(material) or forecast
        if len(closes) < MIN_HISTORY_ROWS:
            return None
        self._build_record(material)
        return await self._provisional(material, closes)

    async def _provisional(self, material: Material, closes: pd.Series) -> Forecast:
        """The naive forecast and its calibrated range, without a fit (milliseconds of numpy,
        in a thread: the engine's workers may be busy with fits)."""
        run = naive_run(closes, self.horizon, self._config)
        model = await asyncio.to_thread(combine, closes, run, [], self._config)
        forecast = self._record(material, closes, model, None)
        return replace(forecast, reason=RECORD_BEING_BUILT, provisional=True)

    def _build_record(self, material: Material) -> None:
        """Retrains the material in the background (backfilling its record first), once."""
        if material.key in self._building:
            return
        log.info("No forecast for %s yet: building its record in the background", material.key)
        task = asyncio.create_task(self.retrain(material), name=f"forecast {material.key}")
        self._building[material.key] = task
        task.add_done_callback(lambda done: self._record_built(material, done))

    def _record_built(self, material: Material, task: asyncio.Task[Forecast | None]) -> None:
        self._building.pop(material.key, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("Building the forecast of %s failed: %r", material.key, task.exception())

    async def settle(self) -> None:
        """Waits for the records being built in the background."""
        await asyncio.gather(*self._building.values(), return_exceptions=True)

    async def aclose(self) -> None:
        """Stops building records (a later retrain builds them again: nothing half-stored)."""
        for task in list(self._building.values()):
            task.cancel()
        await self.settle()

    async def outlook(self, material: Material) -> Outlook:
        closes = await self._closes(material)
        forecast = await self.latest(material, closes)
        if forecast is None:
            raise UserError(
                f"Not enough price history for {material.name} to forecast yet: it takes "
                f"{MIN_HISTORY_ROWS} days of prices. /price {material.key} shows what there is."
            )
        recent = [
            (day.date(), float(price))
            for day, price in closes[
                closes.index > closes.index[-1] - pd.Timedelta(days=CHART_DAYS)
            ].items()
        ]
        stock = await self._stock(material)
        return Outlook(material, forecast, recommend(forecast, stock, self._threshold), recent)

    async def _stock(self, material: Material) -> StockStatus | None:
        try:
            return await self._inventory.status(material)
        except UserError:
            return None

    async def current(self) -> Mapping[str, CurrentAdvice]:
        """The current recommendation per material with a stored forecast (AdviceSource)."""
        stock = {s.material.key: s for s in await self._inventory.statuses()}
        advice = {}
        for material in self._catalog:
            forecast = await self._forecasts.latest(material.key, self.horizon)
            if forecast is None:
                continue
            recommendation = recommend(forecast, stock.get(material.key), self._threshold)
            change = forecast.expected_change_pct
            advice[material.key] = CurrentAdvice(
                material.key,
                recommendation.advice,
                recommendation.reason,
                change if math.isfinite(change) else None,
            )
        return advice
