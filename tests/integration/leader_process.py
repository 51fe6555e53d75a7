"""A process that takes the lead and keeps it until it is killed, for the leader election tests.

    python -m tests.integration.leader_process DATABASE_URL

Prints "leading" once it leads; if it stops leading, prints "lost: REASON" and exits 1.
"""

from __future__ import annotations

import asyncio
import sys

from core.adapters.db.leader import leadership_for


async def main(database_url: str) -> int:
    leadership = leadership_for(database_url)
    await leadership.acquire()
    print("leading", flush=True)
    try:
        reason = await leadership.lost()
    finally:
        await leadership.release()
    print(f"lost: {reason}", flush=True)
    return 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1])))
