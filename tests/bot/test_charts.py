"""What the charts show, read from the drawn figure: the text on it and the plot's size."""

import warnings
from datetime import date

from bot.charts import stock_figure, vendor_figure
from core.inventory import assess_stock
from core.models import Material
from core.vendors import rank_quotes
from tests.fakes import ALUMINIUM, COPPER, STEEL, quote, stock_item

TODAY = date(2026, 11, 24)


def test_the_stock_chart_tells_a_material_not_in_use_from_an_empty_one() -> None:
    statuses = [
        assess_stock(COPPER, stock_item("copper", on_hand=0, daily_consumption=10), []),
        assess_stock(ALUMINIUM, stock_item("aluminium", on_hand=0, daily_consumption=0), []),
        assess_stock(STEEL, stock_item("steel", on_hand=10, daily_consumption=10), []),
    ]
    figure = stock_figure(statuses, TODAY)
    [axes] = figure.axes
    labels = {
        tick.get_text(): text.get_text()
        for tick, text in zip(axes.get_yticklabels(), axes.texts, strict=True)
    }
    assert labels == {"Steel rebar": "1 day", "Aluminium": "not used", "Copper": "0 days"}


def test_long_or_emoji_names_are_shortened_and_the_plot_keeps_its_size() -> None:
    ranking = rank_quotes(
        COPPER,
        [
            quote("Vereinigte Kupferhütten und Metallwerke " * 5),
            quote("🔥🔥 Best Metals 🔥👍🏽 GmbH", price=8900, delivery_days=3),
            quote("Normal", price=9500),
        ],
        TODAY,
    )
    long_material = Material("long", "Very long material name " * 8)
    statuses = [assess_stock(long_material, stock_item("long"), [])]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no missing glyphs, no "axes sizes collapsed to zero"
        figures = [vendor_figure(ranking, TODAY), stock_figure(statuses, TODAY)]
        for figure in figures:
            figure.draw_without_rendering()
    for figure in figures:
        plot = figure.axes[0].get_position()
        assert plot.width > 0.6 and plot.height > 0.7
    labels = [text.get_text() for text in figures[0].axes[0].texts]
    assert labels == [
        "Best Metals GmbH ★4.0 (best pick)",
        "Vereinigte Kupferhütten… ★4.0",
        "Normal ★4.0",
    ]
    assert figures[1].axes[0].get_yticklabels()[0].get_text() == "Very long material name…"
