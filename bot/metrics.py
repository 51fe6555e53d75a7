"""Prometheus metrics of the running bot, served at /metrics when METRICS_PORT is set.

Core returns what happened (a PollResult, the alerts raised, a DeliveryReport, the health
report); this module turns it into Prometheus's official client's counters, gauges and
histograms. Labels are bounded sets (command names, alert types, channels, materials): never a
user id or a chat id.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    disable_created_metrics,
    start_http_server,
)

from bot.settings import SettingsError
from core.delivery import DeliveryReport
from core.feeds import PollResult
from core.health import Health, poll_failed
from core.models import Alert

log = logging.getLogger(__name__)

REPLY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
LAG_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)
RETRAIN_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
UNKNOWN_COMMAND = "unknown"


class Metrics:
    """The bot's metrics, in a registry of their own (tests make as many as they like)."""

    def __init__(self, version: str) -> None:
        disable_created_metrics()  # no `*_created` twin of every counter: noise to a scraper
        registry = self.registry = CollectorRegistry()
        for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
            registry.register(collector)
        Info("procurebot_build", "The running procurebot's version", registry=registry).info(
            {"version": version}
        )
        self.leader = Gauge(
            "procurebot_leader",
            "1 while this instance leads (polls Telegram, runs the jobs); 0 while it stands by",
            registry=registry,
        )
        self.commands = Counter(
            "procurebot_commands",
            "Chat commands handled, by command and outcome (answered, refused, failed)",
            ["command", "outcome"],
            registry=registry,
        )
        self.reply_seconds = Histogram(
            "procurebot_reply_seconds",
            "Time from a command's arrival to its reply sent, by command",
            ["command"],
            buckets=REPLY_BUCKETS,
            registry=registry,
        )
        self.loop_lag = Histogram(
            "procurebot_event_loop_lag_seconds",
            "How late the event loop woke a task that slept (every chat waits this long)",
            buckets=LAG_BUCKETS,
            registry=registry,
        )
        self.alerts = Counter(
            "procurebot_alerts",
            "Alerts raised, by type and severity",
            ["type", "severity"],
            registry=registry,
        )
        self.deliveries = Counter(
            "procurebot_deliveries",
            "Delivery attempts, by channel and result (sent, retry, failed)",
            ["channel", "result"],
            registry=registry,
        )
        self.outbox_pending = Gauge(
            "procurebot_outbox_pending",
            "Deliveries waiting to be sent (pending or in flight)",
            registry=registry,
        )
        self.outbox_oldest = Gauge(
            "procurebot_outbox_oldest_pending_seconds",
            "How long the oldest waiting delivery has waited (0: none waits)",
            registry=registry,
        )
        self.feed_polls = Counter(
            "procurebot_feed_polls", "Polls of the price feed", registry=registry
        )
        self.feed_failures = Counter(
            "procurebot_feed_failures",
            "Polls of the price feed that failed (unreadable, or every row refused)",
            registry=registry,
        )
        self.prices_stored = Counter(
            "procurebot_feed_prices_stored", "New prices stored from the feed", registry=registry
        )
        self.retrain_seconds = Histogram(
            "procurebot_retrain_duration_seconds",
            "How long a scheduled retrain of every material's forecast took",
            buckets=RETRAIN_BUCKETS,
            registry=registry,
        )
        self.accuracy = Gauge(
            "procurebot_forecast_accuracy_ratio",
            "The forecast's mean absolute error over the naive forecast's (1: no better than "
            "no change), by material",
            ["material"],
            registry=registry,
        )
        self.healthy = Gauge(
            "procurebot_healthy",
            "1 when `procurebot status` finds no problem, 0 when it finds one",
            registry=registry,
        )
        self.problems = Gauge(
            "procurebot_problems", "How many problems `procurebot status` finds", registry=registry
        )

    def command(self, name: str, known: bool, outcome: str, seconds: float) -> None:
        label = name if known else UNKNOWN_COMMAND
        self.commands.labels(label, outcome).inc()
        self.reply_seconds.labels(label).observe(seconds)

    def polled(self, result: PollResult) -> None:
        self.feed_polls.inc()
        if poll_failed(result):
            self.feed_failures.inc()
        self.prices_stored.inc(result.stored)

    def raised(self, alerts: Iterable[Alert]) -> None:
        for alert in alerts:
            self.alerts.labels(alert.type.value, alert.severity.value).inc()

    def delivered(self, report: DeliveryReport) -> None:
        for (channel, result), count in report.outcomes.items():
            self.deliveries.labels(channel, result).inc(count)

    def observe_health(self, health: Health) -> None:
        outbox = health.outbox
        self.outbox_pending.set(outbox.pending)
        oldest = outbox.oldest_pending
        self.outbox_oldest.set((health.now - oldest).total_seconds() if oldest else 0.0)
        for material, accuracy in health.accuracy:
            if accuracy is not None:
                self.accuracy.labels(material).set(accuracy.ratio)
        self.healthy.set(1 if health.healthy else 0)
        self.problems.set(len(health.problems))


class MetricsServer:
    """Prometheus's own HTTP server for /metrics, in a thread of its own."""

    def __init__(self, server: WSGIServer, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread

    @classmethod
    def start(cls, metrics: Metrics, host: str, port: int) -> MetricsServer:
        """Listens on host:port; raises SettingsError (one line) when that cannot be done."""
        try:
            server, thread = start_http_server(port, host, registry=metrics.registry)
        except OSError as error:
            raise SettingsError(
                f"METRICS_PORT={port} on METRICS_HOST={host} cannot be used: "
                f"{error.strerror or error}. Pick another port, or unset METRICS_PORT."
            ) from None
        log.info("Metrics at http://%s:%d/metrics", host, port)
        return cls(server, thread)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
