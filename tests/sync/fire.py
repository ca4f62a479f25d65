"""Run by the scheduler test in several processes at once: fire due schedules for a while."""

from __future__ import annotations

import asyncio
import sys
import time

from gatehouse.db.engine import Database
from gatehouse.sync.scheduler import fire_due


async def main(url: str, seconds: float) -> None:
    db = Database(url)
    fired = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        fired += len(await fire_due(db, limit=5))
    await db.dispose()
    print(fired)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], float(sys.argv[2])))
