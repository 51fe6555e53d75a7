"""Retraining on a Dask cluster (FORECAST_CLUSTER): the same forecasts as the local process
pool, and the pool standing in while the cluster cannot be reached."""

import logging
import socket
from collections.abc import Iterator

import pytest
from distributed import LocalCluster

from core.adapters.dask_cluster import DaskCluster, local_cluster
from core.adapters.processes import worker_pool
from core.adapters.prophet_model import ProphetEngine
from core.forecasting import Forecast, ForecastService
from core.inventory import InventoryService
from core.materials import MaterialCatalog
from tests.fakes import (
    MATERIALS,
    FakeClock,
    FakeForecastRepo,
    FakeInventoryRepo,
    FakePriceRepo,
    daily_prices,
    random_walk,
)


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    """A Dask cluster of 2 worker processes on loopback, as FORECAST_CLUSTER would name."""
    with local_cluster(workers=2) as local:
        yield local


async def retrain_everything(engine: ProphetEngine) -> list[Forecast]:
    """Retrains copper and aluminium (real Prophet fits, their records backfilled first)."""
    clock = FakeClock()
    prices = FakePriceRepo(
        daily_prices("copper", list(random_walk(130, seed=3)))
        + daily_prices("aluminium", list(random_walk(130, seed=4) / 4))
    )
    catalog = MaterialCatalog(MATERIALS)
    service = ForecastService(
        catalog,
        prices,
        FakeForecastRepo(),
        engine,
        InventoryService(catalog, FakeInventoryRepo(), clock),
        clock,
        horizon=7,
        threshold_pct=2.0,
    )
    try:
        return await service.retrain_all()
    finally:
        engine.close()


async def test_retraining_on_a_dask_cluster_gives_the_process_pools_forecasts(
    cluster: LocalCluster,
) -> None:
    in_pool = await retrain_everything(ProphetEngine.in_processes(2))
    on_cluster = await retrain_everything(
        ProphetEngine(cluster=DaskCluster(cluster.scheduler_address))
    )
    assert [f.material for f in on_cluster] == ["copper", "aluminium"]
    assert on_cluster == in_pool
    assert all(f.settings["calibration_forecasts"] > 5 for f in on_cluster)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_a_cluster_that_cannot_be_reached_leaves_the_fits_to_the_local_pool(
    caplog: pytest.LogCaptureFixture,
) -> None:
    address = f"tcp://127.0.0.1:{closed_port()}"
    pool = worker_pool(2, ["core.adapters.prophet_model"])
    engine = ProphetEngine(pool, cluster=DaskCluster(address, connect_timeout=1.0))
    with caplog.at_level(logging.INFO, logger="core.adapters.dask_cluster"):
        forecasts = await retrain_everything(engine)
    assert [f.material for f in forecasts] == ["copper", "aluminium"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1  # once, not for every fit
    assert warnings[0].startswith(f"Forecast cluster {address} cannot be reached")
