"""A delivery worker as its own process, for the SIGKILL restart test: the real composition
root (settings from the environment, SQLite, the Twilio WhatsApp notifier) sending one
WhatsApp message at a time.

    python -m tests.integration.delivery_process          # deliver until killed
    python -m tests.integration.delivery_process --once   # one delivery run, then exit
"""

from __future__ import annotations

import asyncio
import sys

from bot.bootstrap import build_alerting, build_services, open_database
from bot.settings import load_settings
from core.models import Channel
from core.ports import SystemClock


async def main(once: bool) -> int:
    settings = load_settings(_env_file=None)
    clock = SystemClock()
    async with open_database(settings, clock) as db:
        services = await build_services(db, settings, clock)
        alerting = build_alerting(
            db, settings, services, delivery_concurrency={Channel.WHATSAPP: 1}
        )
        try:
            print("ready", flush=True)
            while True:
                await alerting.jobs.deliver()
                if once:
                    return 0
                await asyncio.sleep(0.05)
        finally:
            await alerting.aclose()


if __name__ == "__main__":
    sys.exit(asyncio.run(main("--once" in sys.argv[1:])))
