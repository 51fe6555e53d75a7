"""Model runs and forecasts in SQLite."""

from __future__ import annotations

import json
from datetime import date

from core.adapters.sqlite import Database, to_db_time
from core.forecast_model import ModelRun
from core.forecasting import Forecast


class SqliteForecastRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def save(self, run: ModelRun, forecast: Forecast, backfilled: bool) -> None:
        key = (forecast.material, run.horizon, forecast.last_day.isoformat())
        made_at = to_db_time(forecast.made_at)
        async with self._db.transaction() as tx:
            await tx.execute(
                """INSERT OR REPLACE INTO model_runs (material, horizon, origin, run, made_at)
                   VALUES (?, ?, ?, ?, ?)""",
                (*key, json.dumps(run.to_dict()), made_at),
            )
            await tx.execute(
                """INSERT OR REPLACE INTO forecasts (material, horizon, origin, made_at,
                       backfilled, price, lower, upper, forecast)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (
                    *key,
                    made_at,
                    int(backfilled),
                    forecast.yhat[-1],
                    forecast.lower[-1],
                    forecast.upper[-1],
                    json.dumps(forecast.to_dict()),
                ),
            )

    async def runs(self, material: str, horizon: int) -> list[ModelRun]:
        rows = await self._db.fetchall(
            "SELECT run FROM model_runs WHERE material = ? AND horizon = ? ORDER BY origin",
            (material, horizon),
        )
        return [ModelRun.from_dict(json.loads(r["run"])) for r in rows]

    async def latest(self, material: str, horizon: int) -> Forecast | None:
        row = await self._db.fetchone(
            """SELECT forecast FROM forecasts
               WHERE material = ? AND horizon = ? AND backfilled = 0
               ORDER BY origin DESC LIMIT 1""",
            (material, horizon),
        )
        return None if row is None else Forecast.from_dict(json.loads(row["forecast"]))

    async def checks(self, material: str, horizon: int) -> list[tuple[date, float, float, float]]:
        rows = await self._db.fetchall(
            """SELECT origin, price, lower, upper FROM forecasts
               WHERE material = ? AND horizon = ? ORDER BY origin""",
            (material, horizon),
        )
        return [(date.fromisoformat(r["origin"]), r["price"], r["lower"], r["upper"]) for r in rows]
