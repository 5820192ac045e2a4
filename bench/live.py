#!/usr/bin/env python3
"""Time from process start until a rollback's target is live (stdlib only).

Usage: live.py --runs N --prepare 'SHELL COMMAND' --out FILE.json -- COMMAND [ARGS...]

Runs `prepare` (through the shell), then COMMAND, N times. mlrb prints its step lines on stderr
as each step returns ("  ✓ [1/5] v4 is now Production (14 ms)"), unbuffered; the first step of a
model rollback is the target's transition (or alias move), so the moment that line arrives is the
moment the target is live. Writes the times (seconds) as {"command", "times"} to FILE.json and
prints the median in milliseconds.
"""
import argparse
import json
import re
import statistics
import subprocess
import sys
import time

LIVE = re.compile(r"✓ \[1/\d+\]")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--prepare", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    times = []
    for _ in range(a.runs):
        subprocess.run(a.prepare, shell=True, check=True)
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        live = None
        tail = []
        for raw in p.stderr:
            line = raw.decode("utf-8", "replace")
            tail = (tail + [line])[-5:]
            if live is None and LIVE.search(line):
                live = time.perf_counter() - t0
        if p.wait() != 0 or live is None:
            sys.exit(f"live: {' '.join(cmd)} exited {p.returncode} (target live: {live}): {''.join(tail)}")
        times.append(live)
    with open(a.out, "w") as f:
        json.dump({"command": " ".join(cmd), "times": times}, f)
    print(f"{statistics.median(times) * 1000:.1f}")


if __name__ == "__main__":
    main()
