"""The processes a child started, so that stopping `perpvol up` leaves none of them behind.

A web child runs granian, which forks its server workers: they are our grandchildren, and when the
granian parent is ended before it has joined them (it was slow to drain and got SIGKILL, or it exited
early) they would outlive `perpvol up` until their parent watch notices (core/lifeline.py: up to several
seconds). The supervisor notes every descendant before it asks its children to stop and waits for those
too. Linux only (/proc); elsewhere the lists are empty and the parent watch alone applies.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

PROC = Path("/proc")

# (pid, start time in clock ticks): a pid alone could be reused by an unrelated process meanwhile.
Process = tuple[int, int]


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent pid, start time) of a live process, None when it is gone."""
    try:
        raw = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name may hold spaces and parentheses: the fields follow its last ')'.
    fields = raw.rsplit(")", 1)[1].split()
    return fields[0], int(fields[1]), int(fields[19])


def descendants(root: int) -> list[Process]:
    """Every live process below `root` (children, their children, …)."""
    if not PROC.is_dir():
        return []
    parents: dict[int, list[Process]] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        stat = _stat(int(entry.name))
        if stat is None or stat[0] == "Z":
            continue
        parents.setdefault(stat[1], []).append((int(entry.name), stat[2]))
    found: list[Process] = []
    todo = [root]
    while todo:
        for process in parents.get(todo.pop(), []):
            found.append(process)
            todo.append(process[0])
    return found


def running(pid: int) -> bool:
    """A process with this pid runs (a zombie has stopped: it only waits for its parent to reap it)."""
    stat = _stat(pid)
    return stat is not None and stat[0] != "Z"


def alive(process: Process) -> bool:
    """Still running: a zombie has stopped (it only waits for whoever adopted it to reap it)."""
    stat = _stat(process[0])
    return stat is not None and stat[0] != "Z" and stat[2] == process[1]


def end(processes: list[Process], grace: float) -> list[Process]:
    """Wait up to `grace` seconds for `processes` to stop, then SIGKILL the rest; returns those killed."""
    deadline = time.monotonic() + grace
    while any(alive(p) for p in processes) and time.monotonic() < deadline:
        time.sleep(0.05)
    killed = []
    for process in processes:
        if alive(process):
            try:
                os.kill(process[0], signal.SIGKILL)
            except ProcessLookupError:
                continue
            killed.append(process)
    # SIGKILL cannot be refused; this only waits for the kernel to take them down.
    deadline = time.monotonic() + 2
    while any(alive(p) for p in killed) and time.monotonic() < deadline:
        time.sleep(0.02)
    return killed
