"""/status (admins) and `procurebot status`: the bot's health in a few lines.

The same lines serve both: plain text on the command line (each problem on a line of its own,
starting `PROBLEM:`, for monitors that grep), HTML in a chat.
"""

from __future__ import annotations

from bot import __version__
from bot.chat.request import Command, Request
from bot.formatting import Reply, esc
from core.health import Health, InstanceRole, clock_time, duration


def headline(health: Health) -> tuple[str, str]:
    """('procurebot 0.1.0', 'healthy' or '2 problems')."""
    count = len(health.problems)
    verdict = "healthy" if health.healthy else f"{count} problem{'s' if count > 1 else ''}"
    return f"procurebot {__version__}", verdict


def status_lines(health: Health) -> list[tuple[str, str]]:
    """(label, text) pairs: the headline, each problem (labelled 'PROBLEM'), then the facts."""
    now = health.now
    lines = [headline(health)]
    lines += [("PROBLEM", problem) for problem in health.problems]
    lines.append(("Database", f"{health.backend}, {health.database}"))
    for instance in health.instances:
        # SQLite has one process per file: no leader and standby to tell apart.
        one = health.backend == "SQLite" and instance.role is InstanceRole.LEADER
        role = "Bot" if one else instance.role.value.capitalize()
        lines.append(
            (
                role,
                f"up since {clock_time(instance.started_at, now)} "
                f"({duration(now - instance.started_at)}) on {instance.host}, pid "
                f"{instance.pid}, version {instance.version}",
            )
        )
    if health.feed is None:
        lines.append(("Price feed", "not polled yet"))
    else:
        feed = health.feed
        good = (
            f"last good poll {clock_time(feed.last_good, now)} ({duration(now - feed.last_good)} "
            "ago)"
            if feed.last_good
            else "no good poll yet"
        )
        if feed.down_since is not None:
            lines.append(
                (
                    f"Price feed {feed.feed}",
                    f"down since {clock_time(feed.down_since, now)} ({feed.failed_polls} failed "
                    f"polls): {feed.error}; {good}",
                )
            )
        else:
            lines.append((f"Price feed {feed.feed}", good))
    retrain = health.retrain
    if retrain is None:
        lines.append(("Forecasts", "not retrained by the schedule yet"))
    else:
        lines.append(
            (
                "Forecasts",
                f"retrained {clock_time(retrain.at, now)} ({duration(now - retrain.at)} ago) in "
                f"{retrain.seconds:.0f} s ({_count(retrain.materials, 'forecast')} made)",
            )
        )
    outbox = health.outbox
    waiting = f"{outbox.pending} pending"
    if outbox.oldest_pending is not None:
        waiting += (
            f", the oldest since {clock_time(outbox.oldest_pending, now)} "
            f"({duration(now - outbox.oldest_pending)})"
        )
    lines.append(("Outbox", f"{waiting}; {outbox.failed_24h} failed in the last 24 h"))
    whatsapp = (
        "WhatsApp off"
        if health.whatsapp_numbers is None
        else _count(health.whatsapp_numbers, "WhatsApp number")
    )
    lines.append(("Alerts go to", f"{_count(health.telegram_chats, 'Telegram chat')}, {whatsapp}"))
    ratios = ", ".join(
        f"{material} {accuracy.ratio:.2f}" if accuracy else f"{material} -"
        for material, accuracy in health.accuracy
    )
    lines.append(("Forecast error / naive", f"{ratios} (1.00: as good as no change)"))
    if health.backup is not None:
        backup = health.backup
        if backup.error is None:
            size = f" ({backup.size / 1e6:,.1f} MB)" if backup.size is not None else ""
            lines.append(("Last backup", f"{clock_time(backup.at, now)}, {backup.file}{size}"))
    if health.retention is not None:
        kept = health.retention
        lines.append(
            (
                "Retention",
                f"last run {clock_time(kept.at, now)}: {kept.prices_removed:,} old polls and "
                f"{kept.deliveries_removed:,} sent deliveries removed in {kept.seconds:.1f} s "
                f"(longest hold {kept.longest_hold * 1000:.0f} ms)",
            )
        )
    return lines


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def status_text(health: Health) -> str:
    """The report as plain text, one line each."""
    return "\n".join(f"{label}: {text}" for label, text in status_lines(health))


def status_html(health: Health) -> str:
    lines = []
    for label, text in status_lines(health):
        shown = "⚠️ Problem" if label == "PROBLEM" else esc(label)
        lines.append(f"<b>{shown}</b>: {esc(text)}")
    return "\n".join(lines)


async def status(request: Request) -> Reply:
    """/status: health of the feed, retraining, outbox, backend and role (admins)."""
    request.no_args("/status")
    health = request.services.health
    if health is None:
        return Reply("Health reporting is not set up here.")
    return Reply(status_html(await health.report()), refresh="/status")


COMMANDS: tuple[Command, ...] = (
    Command(
        "status",
        "/status",
        "/status",
        "health of the price feed, retraining, outbox, backend and role (admins).",
        status,
        admin_only=True,
    ),
)
