"""Run a command's Python module (uvicorn, as the benchmarks start it) with every thread profiled by cProfile, and
write the merged statistics when it exits (uvicorn exits on SIGTERM): `python scripts/profiled_server.py OUT.prof -m
uvicorn ...`. py-spy is not installed here; cProfile alone sees only the thread that enabled it, and the app's sync
handlers run in worker threads, so each thread gets a profiler of its own from `threading.setprofile` as it starts.
Each thread's clock is its own CPU time (`time.thread_time`), not the wall clock: a sale spends most of its wall time
waiting on PostgreSQL's row locks, which is no server CPU. cProfile slows Python calls down (the server's CPU per
sale about doubles here), so read the figures as shares, not as times.
"""

from __future__ import annotations

import cProfile
import pstats
import runpy
import signal
import sys
import threading
import time

out = sys.argv[1]
if sys.argv[2] != "-m":
    raise SystemExit("usage: profiled_server.py OUT.prof -m MODULE [ARGS...]")
module = sys.argv[3]
sys.argv = [module, *sys.argv[4:]]
profiles: list[cProfile.Profile] = []
lock = threading.Lock()


def _profile_this_thread(frame, event, arg):
    profile = cProfile.Profile(time.thread_time)
    with lock:
        profiles.append(profile)
    profile.enable()  # replaces this hook for the thread


def _exit(signum, frame):
    raise SystemExit(0)


# uvicorn shuts down on SIGTERM, then restores the handler it found and raises the signal again: this one, so that
# the process ends through the `finally` below instead of dying before the statistics are written.
signal.signal(signal.SIGTERM, _exit)
threading.setprofile(_profile_this_thread)
main = cProfile.Profile(time.thread_time)
profiles.append(main)
main.enable()
try:
    runpy.run_module(module, run_name="__main__", alter_sys=True)
except SystemExit:
    pass
finally:
    main.disable()
    with lock:
        stats = pstats.Stats(*profiles)
    stats.dump_stats(out)
