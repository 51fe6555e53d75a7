"""/vendors: the vendors of a material ranked by price, delivery and rating, with the best pick
and a chart."""

from __future__ import annotations

from bot import charts
from bot.chat.request import Command, Request, with_arguments
from bot.formatting import Reply, vendor_report


async def vendors(request: Request) -> Reply:
    """/vendors MATERIAL: vendors ranked, the best pick and why."""
    services = request.services
    if not request.args:
        return Reply(
            "Which material? Usage: /vendors MATERIAL",
            choices=request.material_buttons("/vendors"),
        )
    material = request.material("/vendors MATERIAL")
    ranking = await services.vendors.ranking(material)
    if not any(r.comparable for r in ranking.ranked):
        return Reply(vendor_report(ranking))
    today = services.clock.now().date()
    chart = await request.render(charts.vendor_chart, ranking, today)
    return Reply(
        vendor_report(ranking), chart, f"vendors-{material.key}", refresh=f"/vendors {material.key}"
    )


COMMANDS: tuple[Command, ...] = (
    Command(
        "vendors",
        "/vendors MATERIAL",
        "/vendors steel",
        "vendors ranked by price, delivery and rating, with the best pick.",
        vendors,
        draws_chart=with_arguments,
    ),
)
