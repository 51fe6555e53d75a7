"""What the Telegram handlers and jobs find in PTB's context: the application's type, and the
services the bot keeps in `application.bot_data` (set up by app.BotRuntime)."""

from __future__ import annotations

from typing import Any

from telegram.ext import Application, ContextTypes

from core.services import Services

App = Application[Any, Any, Any, Any, Any, Any]
Context = ContextTypes.DEFAULT_TYPE

# Keys in application.bot_data.
SERVICES = "services"
RENDER = "render"
NOTIFIER = "notifier"  # the Telegram Notifier, which the alert delivery worker sends through
ALERTING = "alerting"  # bot.bootstrap.Alerting: the alert jobs (jobs.check_advice after retrains)
METRICS = "metrics"  # bot.metrics.Metrics: what /metrics serves


def services_of(context: Context) -> Services:
    services: Services = context.bot_data[SERVICES]
    return services
