"""What the charts show, read from the drawn figure: the text on it and the plot's size."""

from datetime import date

from bot.charts import stock_figure
from core.inventory import assess_stock
from tests.fakes import ALUMINIUM, COPPER, STEEL, stock_item

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
