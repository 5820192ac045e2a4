#!/usr/bin/env python3
"""Where one process's wall time goes: its HTTP requests, timed from strace (stdlib only).

Usage: anatomy.py --title TITLE -- COMMAND [ARGS...]
Runs COMMAND once under `strace -f -ttt -T` (network and read/write syscalls only), then prints a
markdown section: process wall time (under strace, so a little slower than untraced), number of
TCP connects, every HTTP request with its latency (request bytes written -> first response bytes
read, matched on the socket it went out on: requests sent at once are marked "at once"), and the
time outside requests (start-up, TLS/client set-up, work, exit).
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

DUR = re.compile(r"<(\d+\.\d+)>$")
FD = re.compile(r"\b(?:sendto|sendmsg|writev|write|recvfrom|recvmsg|read)\((\d+),")
REQ = re.compile(r'"(GET|POST|DELETE|PATCH|PUT) (/[^ ?"]+)')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--title", required=True)
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    with tempfile.TemporaryDirectory() as td:
        log = os.path.join(td, "strace.log")
        trace = ["strace", "-f", "-ttt", "-T", "-s", "160", "-o", log,
                 "-e", "trace=connect,sendto,sendmsg,write,writev,recvfrom,recvmsg,read,execve,exit_group"]
        p = subprocess.run(trace + cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if p.returncode != 0:
            sys.exit(f"anatomy: {' '.join(cmd)} exited {p.returncode}: {p.stderr[-500:]}")
        lines = open(log).read().splitlines()

    first = last = None
    connects = 0
    pending = {}  # socket -> [(start time, "METHOD path")]: one request at a time per connection
    unfinished = {}  # thread -> the socket of its call strace left "<unfinished ...>"
    reqs = []
    spans = []
    for ln in lines:
        m = re.match(r"^(?:(\d+)\s+)?(\d+\.\d+)\s", ln)
        if not m:
            continue
        tid, t = m.group(1), float(m.group(2))
        first = t if first is None else first
        last = t
        if "connect(" in ln and "AF_INET" in ln:
            connects += 1
            continue
        call = FD.search(ln)
        if call and "<unfinished" in ln:
            unfinished[tid] = call.group(1)
        fd = call.group(1) if call else unfinished.pop(tid, None) if "resumed" in ln else None
        r = REQ.search(ln)
        if r and re.search(r"\b(sendto|sendmsg|writev|write)\(", ln):
            path = r.group(2).replace("/api/2.0/mlflow/", "")
            pending.setdefault(fd, []).append((t, f"{r.group(1)} {path}"))
            continue
        if pending.get(fd) and '"HTTP/1.' in ln and re.search(r"(recvfrom|recvmsg|read)", ln):
            d = DUR.search(ln)
            # a complete line starts when the call does; a "resumed" line prints when it returns
            end = t if ("resumed" in ln or not d) else t + float(d.group(1))
            t0, what = pending[fd].pop(0)
            reqs.append((t0, end, what))

    reqs.sort()
    spans = [(t0, end) for t0, end, _ in reqs]
    # Time in requests: the union of their spans (requests sent at once overlap).
    covered, until = 0.0, None
    for t0, end in spans:
        if until is None or t0 > until:
            covered += end - t0
            until = end
        elif end > until:
            covered += end - until
            until = end
    wall = last - first
    in_req = covered
    out = [f"### {a.title}", ""]
    out.append(f"`{' '.join(os.path.basename(c) if i == 0 else c for i, c in enumerate(cmd))}` once under "
               f"`strace -f` (adds overhead): wall {wall * 1000:.0f} ms, {connects} TCP connect(s), "
               f"{len(reqs)} HTTP requests taking {in_req * 1000:.0f} ms "
               f"({in_req / wall * 100:.0f} %), everything else {(wall - in_req) * 1000:.0f} ms.")
    if spans:
        gaps = wall - in_req - (spans[0][0] - first) - (last - max(e for _, e in spans))
        out.append(f"Outside requests: start-up to first request {(spans[0][0] - first) * 1000:.0f} ms, "
                   f"between requests {gaps * 1000:.0f} ms in total, last response to exit "
                   f"{(last - max(e for _, e in spans)) * 1000:.0f} ms.")
    if reqs:
        out.append("")
        out.append("| # | request | ms |")
        out.append("|---:|---|---:|")
        for i, (t0, end, what) in enumerate(reqs, 1):
            beside = any(j != i - 1 and a < end and t0 < b for j, (a, b) in enumerate(spans))
            out.append(f"| {i} | `{what}`{' (at once)' if beside else ''} | {(end - t0) * 1000:.1f} |")
    print("\n".join(out))


if __name__ == "__main__":
    main()
