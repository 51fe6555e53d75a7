"""Charts for phones: 800x500 px PNGs, large type, units on axes, material and date in the title.

Pure functions from core values to PNG bytes, drawn with matplotlib's object API on the Agg
canvas (no pyplot, no global state), so they can run in worker threads or processes.
"""

from __future__ import annotations

import functools
import io
import unicodedata
from collections.abc import Sequence
from datetime import date

from matplotlib.axes import Axes
from matplotlib.dates import AutoDateLocator, DateFormatter, date2num
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties, findfont, get_font
from matplotlib.ticker import FuncFormatter

from bot.formatting import money_scale
from core.budget import Budget
from core.forecasting import Forecast
from core.inventory import StockLevel, StockStatus
from core.models import Material, PricePoint
from core.services.purchasing import Report
from core.vendors import VendorRanking
from core.wording import plural

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


LABEL_LIMIT = 24  # characters of a vendor's or material's name on a chart
TITLE_NAME_LIMIT = 32


@functools.cache
def _font_lacks(char: str) -> bool:
    return get_font(findfont(FontProperties())).get_char_index(ord(char)) == 0


def short_label(name: str, limit: int = LABEL_LIMIT) -> str:
    """A name as a chart can show it: symbols the chart's font cannot draw (most emoji, and
    the joiners between them) left out, and at most `limit` characters, ending in '…' when
    cut. Long names would push the plot aside until it collapsed."""
    drawable = "".join(
        c for c in name if not (unicodedata.category(c)[0] in "SC" and _font_lacks(c))
    )
    text = " ".join(drawable.split()) or "?"
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


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
    name = short_label(material.name, TITLE_NAME_LIMIT)
    axes.set_title(f"{name}: {days} days to {points[-1].at:%d %b %Y}", fontsize=TITLE_SIZE)
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
        f"{short_label(material.name, TITLE_NAME_LIMIT)}: {forecast.horizon}-day forecast on "
        f"{forecast.made_at:%d %b %Y}",
        fontsize=TITLE_SIZE,
    )
    axes.set_ylabel(f"Price ({material.price_unit})", fontsize=LABEL_SIZE)
    axes.xaxis.set_major_locator(AutoDateLocator(maxticks=6))
    axes.xaxis.set_major_formatter(DateFormatter("%d %b"))
    axes.legend(fontsize=TICK_SIZE, loc="upper left")
    _thousands(axes)
    return _png(figure)


def budget_chart(budget: Budget) -> bytes:
    """How the cost of the planned buying could turn out: the past periods' price moves, up or
    down, applied to today's quantity and price, with the expected cost and the 95% range."""
    figure, axes = _figure()
    divisor, prefix = money_scale(budget.expected)
    costs = [cost / divisor for cost in budget.outcomes]
    axes.axvspan(
        budget.lower / divisor,
        budget.upper / divisor,
        color="#f39c12",
        alpha=0.2,
        label="95% range",
    )
    axes.hist(costs, bins=40, color=LINE, alpha=0.85, label="past moves, up or down")
    axes.axvline(
        budget.expected / divisor, color="#d35400", linewidth=2.5, linestyle="--", label="expected"
    )
    material = budget.material
    axes.set_title(
        f"{material.name}: {budget.to_buy:,.0f} {material.unit} over the next {budget.days} days",
        fontsize=TITLE_SIZE,
    )
    axes.set_xlabel(f"Cost ({prefix}{material.currency})", fontsize=LABEL_SIZE)
    axes.set_ylabel("Past moves", fontsize=LABEL_SIZE)
    axes.legend(fontsize=TICK_SIZE, loc="upper right")
    return _png(figure)


def cover_label(status: StockStatus) -> str:
    """What a stock bar says at its end: '0 days' for an empty stock, 'not used' for a
    material nobody uses (no bar, whatever its stock)."""
    if status.days_of_cover is None:
        return "not used"
    return plural(status.days_of_cover, "day")


def stock_figure(statuses: Sequence[StockStatus], today: date) -> Figure:
    """Days of cover per material against the days its reorder point stands for."""
    figure, axes = _figure()
    shown = list(reversed(statuses))
    names = [short_label(s.material.name) for s in shown]
    covers = [s.days_of_cover or 0.0 for s in shown]
    reorder = [s.reorder_point / s.daily_use if s.daily_use else 0.0 for s in shown]
    colours = [LEVEL_COLOURS[s.level] for s in shown]
    axes.barh(names, covers, color=colours, height=0.6, label="days of cover")
    used = [i for i, s in enumerate(shown) if s.days_of_cover is not None]
    axes.scatter(
        [reorder[i] for i in used],
        [names[i] for i in used],
        marker="|",
        s=900,
        linewidths=3,
        color="black",
        zorder=3,
        label="reorder point",
    )
    for name, cover, status in zip(names, covers, shown, strict=True):
        unused = status.days_of_cover is None
        axes.annotate(
            cover_label(status),
            (cover, name),
            xytext=(6, 0),
            textcoords="offset points",
            va="center",
            fontsize=TICK_SIZE,
            color="#7f8c8d" if unused else "black",
            style="italic" if unused else "normal",
        )
    axes.margins(x=0.15)
    axes.set_xlabel("Days of cover (stock on hand / daily use)", fontsize=LABEL_SIZE)
    axes.set_title(f"Stock cover on {today:%d %b %Y}", fontsize=TITLE_SIZE)
    axes.tick_params(axis="y", labelsize=LABEL_SIZE)
    axes.legend(fontsize=TICK_SIZE, loc="upper right")
    return figure


def stock_chart(statuses: Sequence[StockStatus], today: date) -> bytes:
    """Days of cover per material against the days its reorder point stands for."""
    return _png(stock_figure(statuses, today))


def vendor_figure(ranking: VendorRanking, today: date) -> Figure:
    """Each comparable quote's price against its delivery time; the best pick highlighted."""
    figure, axes = _figure()
    days = [r.quote.delivery_days for r in ranking.ranked if r.comparable]
    middle = (min(days) + max(days)) / 2 if days else 0.0
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
        label = f"{short_label(quote.vendor)} ★{quote.rating:.1f}{note}"
        on_the_right = max(days) > min(days) and quote.delivery_days > middle
        annotation = axes.annotate(  # labels on the right half point left, into the plot
            label,
            (quote.delivery_days, quote.price),
            xytext=(-10 if on_the_right else 10, 6),
            textcoords="offset points",
            ha="right" if on_the_right else "left",
            fontsize=TICK_SIZE,
        )
        annotation.set_in_layout(False)  # a label may run past the plot, never squeeze it
    axes.set_xlabel("Delivery (days)", fontsize=LABEL_SIZE)
    axes.set_ylabel(f"Price ({ranking.material.price_unit})", fontsize=LABEL_SIZE)
    name = short_label(ranking.material.name, TITLE_NAME_LIMIT)
    axes.set_title(f"{name} vendors on {today:%d %b %Y}", fontsize=TITLE_SIZE)
    axes.margins(x=0.35, y=0.2)
    _thousands(axes)
    return figure


def vendor_chart(ranking: VendorRanking, today: date) -> bytes:
    """Each comparable quote's price against its delivery time; the best pick highlighted."""
    return _png(vendor_figure(ranking, today))


def overview_chart(series: Sequence[tuple[Material, Sequence[PricePoint]]], days: int) -> bytes:
    """Every material's price over the last `days` days as the change since the first day, so
    that metals at 2,000 and at 20,000 USD/t share one scale."""
    figure, axes = _figure()
    drawn = [(m, points) for m, points in series if points]
    for material, points in drawn:
        first = points[0].price
        times = date2num([p.at for p in points])
        change = [(p.price / first - 1) * 100 for p in points]
        line = axes.plot(times, change, linewidth=2.2, label=material.name)[0]
        axes.annotate(
            f"{change[-1]:+.1f}%",
            (times[-1], change[-1]),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize=TICK_SIZE,
            color=line.get_color(),
        )
    end = max((points[-1].at for _, points in drawn), default=None)
    title = f"Prices: {days} days" + (f" to {end:%d %b %Y}" if end else "")
    axes.set_title(title, fontsize=TITLE_SIZE)
    axes.set_ylabel("Change since the first day (%)", fontsize=LABEL_SIZE)
    axes.axhline(0, color="#555555", linewidth=1)
    axes.xaxis.set_major_locator(AutoDateLocator(maxticks=6))
    axes.xaxis.set_major_formatter(DateFormatter("%d %b"))
    axes.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:+.0f}%"))
    if drawn:
        axes.legend(fontsize=TICK_SIZE, loc="upper left")
    return _png(figure)


def report_figure(report: Report) -> Figure:
    """Per material, in percent so that metals at 2,000 and at 20,000 USD/t share one scale: the
    price paid against the market when ordering (the premium), and what the orders cost
    against buying the same on a fixed schedule. Below zero is cheaper."""
    figure, axes = _figure()
    lines = [line for _, line in report.lines]
    names = [short_label(material.name) for material, _ in report.lines]
    premium = [line.premium_pct or 0.0 for line in lines]
    schedule = [
        (line.versus_schedule / line.schedule_cost * 100)
        if line.versus_schedule is not None and line.schedule_cost
        else 0.0
        for line in lines
    ]
    places = list(range(len(names)))
    width = 0.38
    paid = axes.bar(
        [p - width / 2 for p in places], premium, width, color="#e67e22", label="paid vs market"
    )
    timed = axes.bar(
        [p + width / 2 for p in places],
        schedule,
        width,
        color=LINE,
        label="cost vs fixed schedule",
    )
    for bars in (paid, timed):
        axes.bar_label(bars, fmt="%+.1f%%", fontsize=TICK_SIZE, padding=3)
    axes.axhline(0, color="#555555", linewidth=1)
    axes.set_xticks(places, names, fontsize=LABEL_SIZE)
    axes.set_xlim(-0.8, len(names) - 0.2)
    axes.margins(y=0.25)
    axes.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:+.0f}%"))
    axes.set_ylabel("Above (+) or below (-) the benchmark", fontsize=LABEL_SIZE)
    axes.set_title(f"Purchasing, {report.month:%B %Y}", fontsize=TITLE_SIZE)
    axes.legend(fontsize=TICK_SIZE, loc="upper right")
    return figure


def report_chart(report: Report) -> bytes:
    """The month's orders against the market and a fixed schedule, per material."""
    return _png(report_figure(report))
