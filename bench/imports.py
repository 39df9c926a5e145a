"""Import time of the command line: `python -X importtime` totals for `perpvol --help` and
`perpvol status`, against the budget of 0.5 s each (issue 16), with the slowest top-level imports.

    .venv/bin/python bench/imports.py [--runs 5] [--database-url postgresql://127.0.0.1:5432/postgres]

`status` runs against a throwaway database on the given server (created and dropped here) and the Redis
of REDIS_URL (default 127.0.0.1:6379). Import time is what a cold process spends in `import`
statements, summed over every module (the "self" column); the best run is judged against the budget
(other processes on the machine only add to it) and the median is shown beside it.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUDGET_SECONDS = 0.5
LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)")


def measure(args: list[str], env: dict[str, str]) -> tuple[float, list[tuple[float, str]]]:
    """Total import seconds of one cold `perpvol ARGS`, and the cumulative seconds of its top-level imports."""
    cmd = [sys.executable, "-X", "importtime", "-m", "cli.main", *args]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    total, top = 0, []
    for line in done.stderr.splitlines():
        match = LINE.match(line)
        if match is None:
            continue
        own, cumulative, indent, name = int(match[1]), int(match[2]), len(match[3]), match[4]
        total += own
        if indent == 1:
            top.append((cumulative / 1e6, name))
    return total / 1e6, sorted(top, reverse=True)[:6]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--database-url", default="postgresql://127.0.0.1:5432/postgres")
    opts = parser.parse_args()
    base = opts.database_url.rsplit("/", 1)[0]
    name = f"perpvol_bench_imports_{secrets.token_hex(4)}"
    env = dict(os.environ, DATABASE_URL=f"{base}/{name}", PERPVOL_REDIS_PREFIX=name)
    env.setdefault("REDIS_URL", "redis://127.0.0.1:6379")
    try:
        for args in (["--help"], ["status"]):
            runs = sorted((measure(args, env) for _ in range(opts.runs)), key=lambda run: run[0])
            best, median = runs[0][0], statistics.median(total for total, _ in runs)
            # The fastest run is the cost itself; other processes on the machine only ever add to it.
            verdict = "within" if best < BUDGET_SECONDS else "OVER"
            print(f"perpvol {' '.join(args)}: {best:.3f} s of imports (best of {opts.runs}; median "
                  f"{median:.3f} s), {verdict} the {BUDGET_SECONDS} s budget")
            for seconds, module in runs[0][1]:
                print(f"    {seconds:.3f} s  {module}")
    finally:
        drop = f"import asyncio, asyncpg\nasync def m():\n c = await asyncpg.connect({opts.database_url!r})\n"
        drop += f" await c.execute('DROP DATABASE IF EXISTS {name}')\n await c.close()\nasyncio.run(m())"
        subprocess.run([sys.executable, "-c", drop], cwd=ROOT, check=False, timeout=60)


if __name__ == "__main__":
    main()
