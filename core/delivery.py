"""The delivery worker: sends the outbox's pending deliveries through each channel's Notifier.

State machine of one delivery (all of it in the database, see core/adapters/db/repos/outbox.py):

    pending --claim--> sending --SENT--> sent                       (final)
                          |----RETRY---> pending, due after a backoff (or retry_after)
                          '----FAILED--> failed, with the reason       (final)

A result may also say the recipient moved (`moved_to`: a Telegram group that became a
supergroup). The notifier has then tried the new address itself and the result is that
attempt's, so the delivery is recorded under the new address and not sent again; the
subscription and the recipient's other pending deliveries follow it (core/recipients.py). A
result with `disable` (a chat that blocked the bot, an opted-out number) unsubscribes the
recipient and drops its other pending deliveries, in the same place.

When each step is committed, relative to the send:
1. The alert and all its deliveries are committed in one transaction before anything is sent.
2. `claim` (pending -> sending, attempts + 1) is committed before the send starts.
3. The result is committed as soon as the send returns.

A crash (kill -9) at any moment therefore leaves every delivery pending, sending or final.
Final ones are never sent again. Pending ones are sent after the restart. Sending ones are put
back to pending when the next worker starts (`recover`) and sent again: that is the remaining
at-least-once window. It is the time from the request leaving to its result being committed
(one network round trip plus one small commit), and it covers at most the sends in flight at
the crash (`concurrency` per channel). Neither Telegram nor Twilio takes an idempotency key for
a message, so a message accepted just before a crash is sent twice rather than lost. (SQLite
runs with synchronous=NORMAL in WAL mode: a commit survives a process crash, but the last ones
may be lost on a power cut or an OS crash, which widens the same window.)

Retries: a RETRY result (rate limit, timeout, 5xx) waits `retry_after` when the service said
so, else an exponential backoff (5 s, 10 s, 20 s ... capped at 10 minutes); a `retry_after`
also pauses the whole channel for that long (a 429 is about the sender, not one chat). After
`max_attempts` attempts (12: about 50 minutes of backoff) the delivery is marked failed with the
last reason. A send that does not return within `send_timeout` counts as a RETRY.

Throughput: each channel has its own loop with a bounded number of sends in flight (Telegram
30, WhatsApp 5 by default); the two small commits per message overlap with the other sends'
network time, so the rate is set by the channel (PTB's AIORateLimiter keeps Telegram at its
limits), not by the database.
"""

from __future__ import annotations

import asyncio
import logging
import math
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from core.models import Alert, Channel, Delivery, SendResult, SendStatus
from core.ports import Clock, DeliveryQueue, Notifier
from core.recipients import RecipientDirectory, mask

log = logging.getLogger(__name__)

DEFAULT_CONCURRENCY = {Channel.TELEGRAM: 30, Channel.WHATSAPP: 5}
BATCH = 200


@dataclass(frozen=True)
class RetryPolicy:
    """When to try a delivery again after a transient failure, and when to give up."""

    first_delay: float = 5.0
    factor: float = 2.0
    max_delay: float = 600.0
    max_attempts: int = 12

    def delay(self, attempts: int, retry_after: float | None = None) -> float:
        """Seconds to wait after the `attempts`-th attempt failed."""
        if retry_after is not None and retry_after > 0:
            return max(1.0, retry_after)
        return min(self.max_delay, self.first_delay * self.factor ** max(0, attempts - 1))


@dataclass
class DeliveryReport:
    """What one run of the worker did."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    moved: int = 0
    recovered: int = 0
    skipped: bool = False  # another run was still going
    # (channel, "sent" | "retry" | "failed") -> how many, for the metrics
    outcomes: Counter[tuple[str, str]] = field(default_factory=Counter, compare=False)

    @property
    def attempted(self) -> int:
        return self.sent + self.retried + self.failed + self.moved


@dataclass
class _Lane:
    """One channel's sending state within a worker."""

    notifier: Notifier
    limit: int
    paused_until: datetime | None = None
    broken: bool = False  # a delivery hit an unexpected error in this run
    in_flight: dict[int, asyncio.Task[None]] = field(default_factory=dict)


class DeliveryWorker:
    """Sends due deliveries; one run at a time, safe to call as often as wanted."""

    def __init__(
        self,
        queue: DeliveryQueue,
        notifiers: Mapping[Channel, Notifier],
        recipients: RecipientDirectory,
        clock: Clock,
        policy: RetryPolicy | None = None,
        concurrency: Mapping[Channel, int] | None = None,
        send_timeout: float = 60.0,
        owner: str | None = None,
    ) -> None:
        self._queue = queue
        self._recipients = recipients
        self._clock = clock
        self.policy = policy or RetryPolicy()
        self._send_timeout = send_timeout
        limits = {**DEFAULT_CONCURRENCY, **(concurrency or {})}
        self._lanes = {
            channel: _Lane(notifier, max(1, limits.get(channel, 1)))
            for channel, notifier in notifiers.items()
        }
        self.owner = owner or uuid.uuid4().hex
        self._lock = asyncio.Lock()
        self._recovered = False

    @property
    def channels(self) -> list[Channel]:
        return list(self._lanes)

    async def run(self, keep_going: Callable[[], bool] = lambda: True) -> DeliveryReport:
        """Sends everything due now, and what falls due while it runs; returns when nothing
        due is left (retries scheduled later wait for a later run).

        Once `keep_going()` turns false (the program is stopping), no new send starts: the
        run returns when the sends in flight have finished and been recorded, so that a
        clean stop leaves nothing in flight to be sent again at the next start."""
        if self._lock.locked():
            return DeliveryReport(skipped=True)
        async with self._lock:
            report = DeliveryReport()
            if not self._recovered:
                report.recovered = await self._queue.recover(self.owner)
                self._recovered = True
                if report.recovered:
                    log.warning(
                        "Deliveries in flight when the bot last stopped: %d; sending them "
                        "again (a message accepted just before the stop may arrive twice).",
                        report.recovered,
                    )
            await asyncio.gather(
                *(
                    self._drain(channel, lane, report, keep_going)
                    for channel, lane in self._lanes.items()
                )
            )
            return report

    def _paused(self, lane: _Lane) -> bool:
        # A lane whose delivery failed unexpectedly (the database, a bug) stops for this run:
        # the same delivery would fail again at once, and the run would never end.
        if lane.broken:
            return True
        return lane.paused_until is not None and self._clock.now() < lane.paused_until

    async def _drain(
        self,
        channel: Channel,
        lane: _Lane,
        report: DeliveryReport,
        keep_going: Callable[[], bool],
    ) -> None:
        slots = asyncio.Semaphore(lane.limit)
        lane.broken = False
        try:
            while keep_going() and not self._paused(lane):
                due = await self._queue.due(
                    channel, self._clock.now(), BATCH, skip=list(lane.in_flight)
                )
                if not due:
                    if not lane.in_flight:
                        return
                    await asyncio.wait(
                        list(lane.in_flight.values()), return_when=asyncio.FIRST_COMPLETED
                    )
                    continue
                for delivery, alert in due:
                    await slots.acquire()
                    if self._paused(lane) or not keep_going():
                        slots.release()
                        break
                    task = asyncio.create_task(self._deliver(lane, delivery, alert, report))
                    lane.in_flight[delivery.id] = task
                    task.add_done_callback(_finished(lane, delivery.id, slots))
            if lane.in_flight:
                await asyncio.wait(list(lane.in_flight.values()))
        finally:
            # Cancelled (shutdown) or failed: stop the sends still going. Their deliveries stay
            # in flight in the database and are recovered by the next worker.
            for task in lane.in_flight.values():
                task.cancel()
            if lane.in_flight:
                await asyncio.wait(list(lane.in_flight.values()))

    async def _deliver(
        self, lane: _Lane, delivery: Delivery, alert: Alert, report: DeliveryReport
    ) -> None:
        try:
            claimed = await self._queue.claim(delivery.id, self.owner, self._clock.now())
            if claimed is None:
                return
            delivery, attempt = claimed, claimed.attempts
            result = await self._send(lane.notifier, delivery, alert)
            await self._settle(lane, delivery, attempt, result, report)
        except asyncio.CancelledError:
            raise
        except Exception:
            # A database error mid-way: the delivery stays as it was committed (pending, or in
            # flight and recovered at the next start); nothing is lost. The next run tries again.
            lane.broken = True
            log.exception("Delivery %d could not be processed", delivery.id)

    async def _send(self, notifier: Notifier, delivery: Delivery, alert: Alert) -> SendResult:
        try:
            return await asyncio.wait_for(
                notifier.send(delivery.address, alert), self._send_timeout
            )
        except TimeoutError:
            return SendResult(SendStatus.RETRY, f"no answer within {self._send_timeout:g} s")
        except Exception as error:  # the Notifier contract says it should not raise
            log.exception("The %s notifier raised instead of reporting", delivery.channel)
            return SendResult(SendStatus.RETRY, f"unexpected {type(error).__name__}")

    async def _settle(
        self,
        lane: _Lane,
        delivery: Delivery,
        attempt: int,
        result: SendResult,
        report: DeliveryReport,
    ) -> None:
        # The result is committed first: that is the step that keeps a sent alert from being
        # sent again. What it says about the recipient is applied after it.
        now = self._clock.now()
        address = result.moved_to or delivery.address
        where = f"{delivery.channel} {mask(address)}"
        if result.status is SendStatus.SENT:
            await self._queue.mark_sent(delivery.id, now)
            report.sent += 1
            report.outcomes[delivery.channel.value, "sent"] += 1
        elif result.status is SendStatus.RETRY and attempt < self.policy.max_attempts:
            wait = self.policy.delay(attempt, result.retry_after)
            await self._queue.mark_retry(delivery.id, _after(now, wait), result.detail)
            report.retried += 1
            report.outcomes[delivery.channel.value, "retry"] += 1
            if result.retry_after:
                lane.paused_until = max(lane.paused_until or now, _after(now, wait))
            log.info(
                "Delivery %d to %s: %s; attempt %d, next in %.0f s",
                delivery.id,
                where,
                result.detail,
                attempt,
                wait,
            )
        else:
            detail = result.detail or "failed"
            if result.status is SendStatus.RETRY:
                detail = f"gave up after {attempt} attempts: {detail}"
            await self._queue.mark_failed(delivery.id, detail)
            report.failed += 1
            report.outcomes[delivery.channel.value, "failed"] += 1
            if not result.disable:  # a disabled recipient gets its own log line
                log.warning("Delivery %d to %s failed: %s", delivery.id, where, detail)
        if result.moved_to is not None:
            # The notifier already tried the new address (the result is that attempt's): the
            # delivery is recorded there, not sent again, and the recipient follows.
            await self._queue.readdress(delivery.id, result.moved_to)
            await self._recipients.moved(delivery.channel, delivery.address, result.moved_to)
            report.moved += 1
        if result.disable:
            reason = result.detail or "refused by the channel"
            await self._recipients.unreachable(delivery.channel, address, reason)


def _finished(
    lane: _Lane, delivery_id: int, slots: asyncio.Semaphore
) -> Callable[[asyncio.Task[None]], None]:
    def done(_: asyncio.Task[None]) -> None:
        lane.in_flight.pop(delivery_id, None)
        slots.release()

    return done


def _after(now: datetime, seconds: float) -> datetime:
    # Times are stored to the second: round up so that the wait is never shorter.
    return now + timedelta(seconds=math.ceil(seconds))
