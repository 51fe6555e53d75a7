"""Model runs and forecasts."""

from __future__ import annotations

import json
from datetime import date

import sqlalchemy as sa

from core.adapters.db.engine import Database
from core.adapters.db.schema import forecasts, model_runs
from core.forecast_model import ModelRun
from core.forecasting import Forecast


class SqlForecastRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def save(self, run: ModelRun, forecast: Forecast, backfilled: bool) -> None:
        key = {"material": forecast.material, "horizon": run.horizon, "origin": forecast.last_day}
        async with self._db.transaction() as tx:
            await tx.execute(
                self._db.upsert(
                    model_runs,
                    list(key),
                    {**key, "run": json.dumps(run.to_dict()), "made_at": forecast.made_at},
                )
            )
            await tx.execute(
                self._db.upsert(
                    forecasts,
                    list(key),
                    {
                        **key,
                        "made_at": forecast.made_at,
                        "backfilled": backfilled,
                        "price": forecast.yhat[-1],
                        "lower": forecast.lower[-1],
                        "upper": forecast.upper[-1],
                        "forecast": json.dumps(forecast.to_dict()),
                    },
                )
            )

    async def runs(self, material: str, horizon: int) -> list[ModelRun]:
        rows = await self._db.fetchall(
            sa.select(model_runs.c.run)
            .where(model_runs.c.material == material, model_runs.c.horizon == horizon)
            .order_by(model_runs.c.origin)
        )
        return [ModelRun.from_dict(json.loads(r.run)) for r in rows]

    async def latest(self, material: str, horizon: int) -> Forecast | None:
        text = await self._db.scalar(
            sa.select(forecasts.c.forecast)
            .where(
                forecasts.c.material == material,
                forecasts.c.horizon == horizon,
                forecasts.c.backfilled.is_(False),
            )
            .order_by(forecasts.c.origin.desc())
            .limit(1)
        )
        return None if text is None else Forecast.from_dict(json.loads(text))

    async def checks(self, material: str, horizon: int) -> list[tuple[date, float, float, float]]:
        rows = await self._db.fetchall(
            sa.select(forecasts.c.origin, forecasts.c.price, forecasts.c.lower, forecasts.c.upper)
            .where(forecasts.c.material == material, forecasts.c.horizon == horizon)
            .order_by(forecasts.c.origin)
        )
        return [(r.origin, r.price, r.lower, r.upper) for r in rows]
