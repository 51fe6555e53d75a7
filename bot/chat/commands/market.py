"""/price, /forecast and /budget: what the materials cost, where their prices are heading and
what the planned use will cost, each with a chart."""

from __future__ import annotations

from dataclasses import replace

from bot import charts
from bot.chat.request import NUMBERISH, Command, Request, with_arguments
from bot.formatting import Reply, budget_report, esc, forecast_report, price_detail, price_overview
from core.budget import DEFAULT_DAYS, MAX_DAYS
from core.errors import UserError

CHART_DAYS = 30
BUDGET_USAGE = "/budget MATERIAL [DAYS]"


async def price(request: Request) -> Reply:
    """/price [MATERIAL]: every price with its change, or one material with a 30-day chart."""
    services = request.services
    if not request.args:
        overview = price_overview(await services.prices.summaries())
        return Reply(overview, choices=request.material_buttons("/price"), refresh="/price")
    material = request.material("/price MATERIAL")
    summary = await services.prices.summary(material)
    points = await services.prices.history(material, CHART_DAYS)
    if not points:
        return Reply(f"No price for {esc(material.name)} yet.")
    prices = [p.price for p in points]
    text = price_detail(summary, min(prices), max(prices), CHART_DAYS)
    chart = await request.render(charts.price_chart, material, points, CHART_DAYS)
    return Reply(text, chart, f"price-{material.key}", refresh=f"/price {material.key}")


async def forecast(request: Request) -> Reply:
    """/forecast MATERIAL: the forecast with its 95% range, chart, advice and track record."""
    if not request.args:
        return Reply(
            "Which material? Usage: /forecast MATERIAL",
            choices=request.material_buttons("/forecast"),
        )
    material = request.material("/forecast MATERIAL")
    forecasts = request.services.forecasts
    if forecasts is None:
        return Reply("Forecasting is not set up here; /price shows the trend.")
    outlook = await forecasts.outlook(material)
    chart = await request.render(charts.forecast_chart, material, outlook.recent, outlook.forecast)
    return Reply(
        forecast_report(outlook),
        chart,
        f"forecast-{material.key}",
        refresh=f"/forecast {material.key}",
    )


async def budget(request: Request) -> Reply:
    """/budget MATERIAL [DAYS]: the cost of the planned use over the period, with its range."""
    if not request.args:
        return Reply(
            f"Which material? Usage: {BUDGET_USAGE}",
            choices=request.material_buttons("/budget"),
        )
    args, days = request.args, DEFAULT_DAYS
    if len(args) > 1 and NUMBERISH.match(args[-1]):
        text = args[-1]
        if not text.isdigit() or not 1 <= int(text) <= MAX_DAYS:
            raise UserError(
                f"DAYS must be a whole number from 1 to {MAX_DAYS}, got '{text}'. "
                "Example: /budget copper 90"
            )
        args, days = args[:-1], int(text)
    material = replace(request, args=args).material(BUDGET_USAGE)
    budgets = request.services.budgets
    if budgets is None:
        return Reply("Budgets are not set up here: they need the forecasting service.")
    planned = await budgets.plan(material, days)
    command = f"/budget {material.key} {days}"
    if not planned.outcomes:
        return Reply(budget_report(planned), refresh=command)
    chart = await request.render(charts.budget_chart, planned)
    return Reply(budget_report(planned), chart, f"budget-{material.key}-{days}", refresh=command)


COMMANDS: tuple[Command, ...] = (
    Command(
        "price",
        "/price [MATERIAL]",
        "/price copper",
        "latest prices with 1- and 7-day change; one material adds a 30-day chart.",
        price,
        draws_chart=with_arguments,
    ),
    Command(
        "forecast",
        "/forecast MATERIAL",
        "/forecast aluminium",
        "7-day forecast, chart, BUY NOW / WAIT / MONITOR and the model's accuracy.",
        forecast,
        draws_chart=with_arguments,
    ),
    Command(
        "budget",
        BUDGET_USAGE,
        "/budget copper 90",
        f"cost of the planned use over the next DAYS (default {DEFAULT_DAYS}, up to "
        f"{MAX_DAYS}), with its 95% range and a chart.",
        budget,
        draws_chart=with_arguments,
    ),
)
