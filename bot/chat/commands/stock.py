"""/stock: how much of each material is in stock, how long it lasts and when to reorder, with a
chart. Changing it (/use, /receive, /count, /moves, /undo) is in stock_moves.py."""

from __future__ import annotations

from bot import charts
from bot.chat.request import Command, Request, always
from bot.formatting import Reply, stock_report


async def stock(request: Request) -> Reply:
    """/stock [MATERIAL]: stock, daily use, days of cover and reorder point, low ones first."""
    inventory = request.services.inventory
    if request.args:
        material = request.material("/stock [MATERIAL]")
        statuses = [await inventory.status(material)]
        command = f"/stock {material.key}"
    else:
        statuses = await inventory.statuses()
        command = "/stock"
    if not statuses:
        return Reply(stock_report(statuses))
    today = request.services.clock.now().date()
    chart = await request.render(charts.stock_chart, statuses, today)
    return Reply(stock_report(statuses), chart, "stock", refresh=command)


COMMANDS: tuple[Command, ...] = (
    Command(
        "stock",
        "/stock [MATERIAL]",
        "/stock",
        "stock, daily use, days of cover and reorder point, low ones first.",
        stock,
        draws_chart=always,
    ),
)
