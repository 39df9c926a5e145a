"""`perpvol status` wall time, as a user's second shell runs it: N real processes one after another
against an existing PostgreSQL and Redis, printing the median, the best and the import share.

    .venv/bin/python bench/cli_status.py [--runs 5]
        [--database postgresql://postgres@127.0.0.1:5432/perpvol_bench_status] [--redis redis://127.0.0.1:6379/0]

The database is created (and migrated) by the first run; it is dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from storage.db import drop_database

ROOT = Path(__file__).resolve().parents[1]


def timed(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=ROOT, env=env, check=True, capture_output=True, timeout=60)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--database", default="postgresql://postgres@127.0.0.1:5432/perpvol_bench_status")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    env = {**os.environ, "DATABASE_URL": args.database, "REDIS_URL": args.redis,
           "PERPVOL_DATA_DIR": tempfile.mkdtemp(prefix="perpvol-bench-")}
    status = [sys.executable, "-m", "cli.main", "status", "--json"]
    try:
        timed(status, env)  # creates and migrates the database: not what a user waits for each time
        runs = [timed(status, env) for _ in range(args.runs)]
        imports = [timed([sys.executable, "-c", "import cli.main"], env) for _ in range(args.runs)]
    finally:
        asyncio.run(drop_database(args.database))
    print(f"perpvol status: median {statistics.median(runs):.3f} s, best {min(runs):.3f} s over {args.runs} runs")
    print(f"  of which interpreter + `import cli.main`: median {statistics.median(imports):.3f} s")
    print(f"  load average now: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
