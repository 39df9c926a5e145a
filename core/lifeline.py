"""Children that die with their parent: a `perpvol web` killed with SIGKILL must not leave its server
workers serving unsupervised (nor `perpvol up` its web, worker and simulator).

The parent names itself in PARENT_ENV; each child watches for its parent to go away (it is re-parented
to init or a subreaper) and then stops itself. A watch thread rather than prctl(PR_SET_PDEATHSIG): the
latter fires when the parent's *thread* that forked exits, which servers that fork from helper threads
would trip over; the thread also works on every platform.
"""

from __future__ import annotations

import os
import signal
import threading
import time

PARENT_ENV = "PERPVOL_PARENT_PID"
CHECK_SECONDS = 0.5
# After asking politely (SIGTERM), how long a child may take to stop before it is ended outright.
GRACE_SECONDS = 5.0


def name_self_as_parent() -> None:
    """Children started from now on (they inherit the environment) watch this process."""
    os.environ[PARENT_ENV] = str(os.getpid())


def watch_parent() -> bool:
    """Stop this process when the parent named in PARENT_ENV is gone. False when none is named."""
    named = os.environ.get(PARENT_ENV, "")
    if not named.isdigit():
        return False
    parent = int(named)
    if parent == os.getpid():
        return False  # the parent itself (the variable was inherited by reading our own environment)
    if os.getppid() != parent:
        if os.getppid() != 1:
            return False  # named by a process further up, not by our parent: not ours to watch
        parent = 1  # our parent died before we got here: the watch below ends us at once
    thread = threading.Thread(target=_watch, args=(parent,), name="perpvol-parent-watch", daemon=True)
    thread.start()
    return True


def _watch(parent: int) -> None:
    while parent != 1 and os.getppid() == parent:
        time.sleep(CHECK_SECONDS)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(GRACE_SECONDS)
    os._exit(1)
