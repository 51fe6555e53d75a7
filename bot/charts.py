"""Charts for phones: 800x500 px PNGs, large type, units on axes, material and date in the title.

Pure functions from core values to PNG bytes, drawn with matplotlib's object API on the Agg
canvas (no pyplot, no global state), so they can run in worker threads or processes.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date

from matplotlib.axes import Axes
from matplotlib.dates import AutoDateLocator, DateFormatter, date2num
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from core.forecasting import Forecast
from core.inventory import StockLevel, StockStatus
from core.models import Material, PricePoint
from core.vendors import VendorRanking

SIZE_INCHES = (8, 5)
DPI = 100
TITLE_SIZE = 17
LABEL_SIZE = 14
TICK_SIZE = 12
LINE = "#1f5fa8"
LEVEL_COLOURS = {
    StockLevel.CRITICAL: "#c0392b",
    StockLevel.REORDER: "#e67e22",
    StockLevel.OK: "#27ae60",
}


def _figure() -> tuple[Figure, Axes]:
    figure = Figure(figsize=SIZE_INCHES, dpi=DPI, layout="constrained")
    axes = figure.add_subplot()
    axes.tick_params(labelsize=TICK_SIZE)
    axes.grid(alpha=0.3)
    return figure, axes


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def _thousands(axes: Axes) -> None:
    axes.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))


def price_chart(material: Material, points: Sequence[PricePoint], days: int) -> bytes:
    """The material's price over the last `days` days."""
    figure, axes = _figure()
    times = date2num([p.at for p in points])
    axes.plot(times, [p.price for p in points], color=LINE, linewidth=2.5)
    axes.scatter([times[-1]], [points[-1].price], color=LINE, s=60, zorder=3)
    axes.set_title(f"{material.name}: {days} days to {points[-1].at:%d %b %Y}", fontsize=TITLE_SIZE)
    axes.set_ylabel(f"Price ({material.price_unit})", fontsize=LABEL_SIZE)
    axes.xaxis.set_major_locator(AutoDateLocator(maxticks=6))
    axes.xaxis.set_major_formatter(DateFormatter("%d %b"))
    _thousands(axes)
    return _png(figure)


def forecast_chart(
    material: Material, history: Sequence[tuple[date, float]], forecast: Forecast
) -> bytes:
    """Recent daily prices, the forecast and its 95% band."""
    figure, axes = _figure()
    past = date2num([day for day, _ in history])
    axes.plot(past, [price for _, price in history], color=LINE, linewidth=2.5, label="price")
    ahead = date2num([forecast.last_day, *forecast.days])
    axes.fill_between(
        ahead,
        [forecast.last_price, *forecast.lower],
        [forecast.last_price, *forecast.upper],
        color="#f39c12",
        alpha=0.25,
        label="95% range",
    )
    axes.plot(
        ahead,
        [forecast.last_price, *forecast.yhat],
        color="#d35400",
        linewidth=2.5,
        linestyle="--",
        label="forecast",
    )
    axes.set_title(
        f"{material.name}: {forecast.horizon}-day forecast on {forecast.made_at:%d %b %Y}",
        fontsize=TITLE_SIZE,
    )
    axes.set_ylabel(f"Price ({material.price_unit})", fontsize=LABEL_SIZE)
    axes.xaxis.set_major_locator(AutoDateLocator(maxticks=6))
    axes.xaxis.set_major_formatter(DateFormatter("%d %b"))
    axes.legend(fontsize=TICK_SIZE, loc="upper left")
    _thousands(axes)
    return _png(figure)


def stock_chart(statuses: Sequence[StockStatus], today: date) -> bytes:
    """Days of cover per material against the days its reorder point stands for."""
    figure, axes = _figure()
    names = [s.material.name for s in reversed(statuses)]
    covers = [s.days_of_cover or 0.0 for s in reversed(statuses)]
    reorder = [s.reorder_point / s.daily_use if s.daily_use else 0.0 for s in reversed(statuses)]
    colours = [LEVEL_COLOURS[s.level] for s in reversed(statuses)]
    axes.barh(names, covers, color=colours, height=0.6, label="days of cover")
    axes.scatter(
        reorder,
        names,
        marker="|",
        s=900,
        linewidths=3,
        color="black",
        zorder=3,
        label="reorder point",
    )
    axes.set_xlabel("Days of cover (stock on hand / daily use)", fontsize=LABEL_SIZE)
    axes.set_title(f"Stock cover on {today:%d %b %Y}", fontsize=TITLE_SIZE)
    axes.tick_params(axis="y", labelsize=LABEL_SIZE)
    axes.legend(fontsize=TICK_SIZE, loc="upper right")
    return _png(figure)


def vendor_chart(ranking: VendorRanking, today: date) -> bytes:
    """Each comparable quote's price against its delivery time; the best pick highlighted."""
    figure, axes = _figure()
    for ranked in ranking.ranked:
        if not ranked.comparable:
            continue
        quote = ranked.quote
        best = ranking.best is not None and ranked.quote == ranking.best.quote
        axes.scatter(
            quote.delivery_days,
            quote.price,
            s=120 + 60 * quote.rating,
            color="#27ae60" if best else ("white" if ranked.expired else LINE),
            edgecolors="#7f8c8d" if ranked.expired else "black",
            linewidths=1.5,
            zorder=3,
        )
        note = " (best pick)" if best else (" (expired)" if ranked.expired else "")
        label = f"{quote.vendor} ★{quote.rating:.1f}{note}"
        axes.annotate(
            label,
            (quote.delivery_days, quote.price),
            xytext=(10, 6),
            textcoords="offset points",
            fontsize=TICK_SIZE,
        )
    axes.set_xlabel("Delivery (days)", fontsize=LABEL_SIZE)
    axes.set_ylabel(f"Price ({ranking.material.price_unit})", fontsize=LABEL_SIZE)
    axes.set_title(f"{ranking.material.name} vendors on {today:%d %b %Y}", fontsize=TITLE_SIZE)
    axes.margins(x=0.35, y=0.2)
    _thousands(axes)
    return _png(figure)
