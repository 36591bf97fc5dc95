"""Sum py-spy's collapsed stacks (`py-spy record --format raw`, as `BENCH_SPY` writes them) by function: each
function's share of the samples it is on the stack of (inclusive) and at the top of (its own), the largest first.

    python scripts/spy_report.py /tmp/spy.get-api-v1-towns.txt [--top 40] [--under FUNCTION]

`--under web.auth` keeps only the stacks that pass through a frame whose text holds that string, to look inside one
part of a request. Idle samples (a thread waiting in epoll, a queue or a lock) are dropped: py-spy reports only
threads on CPU unless told otherwise (--idle), so the shares are of the server's CPU.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import time
from collections import Counter
from pathlib import Path


def record(pid: int, name: str) -> subprocess.Popen | None:
    """With BENCH_SPY=OUT (py-spy on the PATH, or BENCH_SPY_BIN naming it; it is no dependency of the project:
    `pip install py-spy` anywhere), sample process `pid` into OUT.<name>.txt until the returned process is stopped
    (`finish`). None without BENCH_SPY. Sampled from outside the server, unlike cProfile: the server runs at its own
    speed and the shares are true."""
    out = os.environ.get("BENCH_SPY")
    if not out:
        return None
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    spy = subprocess.Popen([os.environ.get("BENCH_SPY_BIN", "py-spy"), "record", "--pid", str(pid), "--rate", "1000",
                            "--format", "raw", "--gil", "--nonblocking", "--subprocesses", "--output",
                            f"{out}.{slug}.txt"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)  # py-spy attaches
    return spy


def finish(spy: subprocess.Popen | None) -> None:
    if spy is not None:
        spy.send_signal(2)  # SIGINT: py-spy writes its file and exits
        spy.wait(timeout=60)


def shares(lines, under: str = "") -> tuple[int, Counter[str], Counter[str]]:
    """The samples in `lines` (py-spy's raw format: `frame;frame;... count`, outermost first), and per function the
    samples it is on the stack of (inclusive) and at the top of (own). A function is counted once per stack however
    often it recurses. `under`: only the stacks with a frame whose text holds it."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in lines:
        stack, _, count = line.rstrip("\n").rpartition(" ")
        if not stack or not count.isdigit():
            continue
        # "function (path:line)": the line dropped, so that a function is one entry wherever it was when sampled.
        frames = [re.sub(r":\d+\)$", ")", f) for f in stack.split(";")]
        if under and not any(under in f for f in frames):
            continue
        n = int(count)
        total += n
        for frame in set(frames):
            inclusive[frame] += n
        own[frames[-1]] += n
    return total, inclusive, own


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("stacks", type=Path)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--under", default="")
    args = parser.parse_args()
    total, inclusive, own = shares(args.stacks.read_text().splitlines(), args.under)
    print(f"{total} samples")
    if not total:
        return
    print(f"{'incl %':>7} {'own %':>6}  function")
    for frame, n in inclusive.most_common(args.top):
        print(f"{100 * n / total:6.1f}% {100 * own[frame] / total:5.1f}%  {frame[:150]}")


if __name__ == "__main__":
    main()
