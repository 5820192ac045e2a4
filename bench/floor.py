#!/usr/bin/env python3
"""The floors mlrb's rollback is measured against: its requests replayed by curl (stdlib only).

Writes what `curl` needs to send one stage-mode rollback vCUR -> vTGT of MODEL:

  floor.py minimal --base URL MODEL CUR TGT [--upto-live] [--parallel]
      Floor (a): the fewest requests a stage-mode rollback needs (the shared test recipe
      testenv/floor.sh): the model, the tagged candidate search, the two transitions (target
      first), the five audit tags on each version. No lease, no verification. A curl config file
      (`curl --config FILE` sends every request in it, in order, over one kept-alive connection);
      with --parallel, a shell script that sends the first four that way and the ten audit tags
      at once (`curl --parallel`), as floor.sh's second number does.
  floor.py replay --base URL MODEL CUR TGT TRACE [--upto-live] [--sequential]
      Floor (b): mlrb's own request sequence, read from TRACE (the stderr of `mlrb -v rollback
      model MODEL --yes`, whose `http: → METHOD URL` lines name every request), with bodies of
      the same shape and size: the lease's model tags, the transitions (target first), the audit
      tags in the order mlrb writes them (the target's, then the rolled-back version's), the
      lease's removal. Requests mlrb sent at once (`→` lines with no `←` line between them) are
      sent at once here too: a shell script with one curl per run of requests sent one after the
      other (one kept-alive connection) and one `curl --parallel` per group sent at once. With
      --sequential, every request one after the other in one curl config instead.

--upto-live stops after the request that makes the target live (its transition): the floor of
"time until the target is live". The audit tags written are the ones the benchmark's reset checks
(`fixture.py check-rolled-back`), so a replay leaves the registry rolled back like mlrb does.
A shell script's curl processes each cost a process start (a few ms) that one curl config does
not; the report says how many there are.
"""
import argparse
import json
import re
import sys
import urllib.parse

AUDIT = ("event_id", "timestamp", "triggered_by", "reason", "role")
TRACE = re.compile(r"http: → (GET|POST|DELETE|PATCH|PUT) (\S+)")
ANSWER = re.compile(r"http: ← ")


def entry(method, url, body=None, label=""):
    lines = [f'url = "{url}"', "silent", 'output = "/dev/null"',
             f'write-out = "{label}%{{http_code}}\\n"']
    if method != "GET":
        lines.append(f"request = {method}")
    if body is not None:
        data = json.dumps(body).replace("\\", "\\\\").replace('"', '\\"')
        lines += ['header = "Content-Type: application/json"', f'data = "{data}"']
    return "\n".join(lines)


def tag_values(role, n):
    """The values of the n-th audit tag write on a version (the sixth and on: the history)."""
    if n < len(AUDIT):
        key = AUDIT[n]
        return f"rollback.{key}", role if key == "role" else "floor-replay"
    history = [{"event": "floor-replay", "role": role, "timestamp": "2026-01-01T00:00:00.000Z",
                "triggered_by": "floor@bench"}]
    return "rollback.history", json.dumps(history)


def minimal(a):
    api = a.base.rstrip("/") + "/api/2.0/mlflow/"
    search = urllib.parse.urlencode({
        "filter": f"name='{a.model}' AND tags.`rollback.healthy_baseline` = 'true'",
        "max_results": 1, "order_by": "version_number DESC"})
    out = [
        entry("GET", api + "registered-models/get?" + urllib.parse.urlencode({"name": a.model})),
        entry("GET", api + "model-versions/search?" + search),
        entry("POST", api + "model-versions/transition-stage",
              {"name": a.model, "version": str(a.tgt), "stage": "Production",
               "archive_existing_versions": False}),
    ]
    if a.upto_live:
        return [(False, out)]
    out.append(entry("POST", api + "model-versions/transition-stage",
                     {"name": a.model, "version": str(a.cur), "stage": "Archived",
                      "archive_existing_versions": False}))
    tags = []
    for v, role in ((a.tgt, "rollback_target"), (a.cur, "rolled_back_from")):
        for n in range(len(AUDIT)):
            k, val = tag_values(role, n)
            tags.append(entry("POST", api + "model-versions/set-tag",
                              {"name": a.model, "version": str(v), "key": k, "value": val}))
    if a.parallel:
        return [(False, out), (True, tags)]
    return [(False, out + tags)]


def replay(a):
    # Each request with the group it was sent in: requests whose `→` lines follow each other
    # with no `←` line between them were in flight at once.
    reqs, groups, group, answered = [], [], 0, True
    for ln in open(a.trace, encoding="utf-8"):
        m = TRACE.search(ln)
        if m:
            if answered:
                group += 1
            answered = False
            reqs.append(m.groups())
            groups.append(group)
        elif ANSWER.search(ln):
            answered = True
    if not reqs:
        sys.exit(f"floor: no `http: → METHOD URL` lines in {a.trace} (was it run with -v?)")
    tag_writes = [i for i, (_, u) in enumerate(reqs) if u.endswith("model-versions/set-tag")]
    half = len(tag_writes) // 2
    # A lease tag as mlrb writes it: holder, host, pid, times, number, machine, the intent.
    lease = json.dumps({"holder": "floor@bench", "host": "bench", "pid": 1,
                        "since": "2026-01-01T00:00:00Z", "expires": "2026-01-01T00:30:00Z",
                        "number": 1, "machine": "0" * 32 + "/pid:[4026531836]", "start": 1,
                        "intent": {"from": [a.cur], "to": a.tgt, "mode": "Stage",
                                   "steps": ["x" * 60] * 5, "reason": "", "to_reason": "x" * 60}})
    out, transitions, tags_done = [], 0, {a.tgt: 0, a.cur: 0}
    for i, (method, url) in enumerate(reqs):
        path = urllib.parse.urlparse(url).path.rsplit("/api/2.0/mlflow/", 1)[-1]
        body = None
        if path == "registered-models/set-tag":
            body = {"name": a.model, "key": "rollback.lease.floor-replay", "value": lease}
        elif path == "registered-models/delete-tag":
            body = {"name": a.model, "key": "rollback.lease.floor-replay"}
        elif path == "model-versions/transition-stage":
            v, stage = (a.tgt, "Production") if transitions == 0 else (a.cur, "Archived")
            transitions += 1
            body = {"name": a.model, "version": str(v), "stage": stage,
                    "archive_existing_versions": False}
        elif path == "model-versions/set-tag":
            v, role = ((a.tgt, "rollback_target") if tag_writes.index(i) < half
                       else (a.cur, "rolled_back_from"))
            k, val = tag_values(role, tags_done[v])
            tags_done[v] += 1
            body = {"name": a.model, "version": str(v), "key": k, "value": val}
        elif method != "GET":
            sys.exit(f"floor: cannot replay {method} {path}: no body known for it")
        # The trace redacts query values it does not know to be harmless; the feature-schema
        # gate's MLmodel reads name the file.
        # Its answer is what the fixture's artifacts give (none: an error, a warning for mlrb),
        # so it is labelled and left out of the all-200 check.
        label = ""
        if path.endswith("model-versions/get-artifact"):
            url = url.replace("path=[redacted]", "path=MLmodel")
            label = "artifact "
        if "[redacted]" in url:
            sys.exit(f"floor: cannot replay {method} {url}: the trace redacted part of it")
        out.append((groups[i], entry(method, url, body, label)))
        if a.upto_live and transitions == 1:
            break
    if a.sequential:
        return [(False, [e for _, e in out])]
    # Runs of requests sent one at a time share one curl; each group sent at once has its own.
    by_group = {}
    for g, e in out:
        by_group.setdefault(g, []).append(e)
    runs = []
    for entries in by_group.values():
        parallel = len(entries) > 1
        if not parallel and runs and not runs[-1][0]:
            runs[-1][1].extend(entries)
        else:
            runs.append((parallel, entries))
    return runs


def script(runs):
    """A shell script sending `runs` (parallel?, curl config entries) one run after the other."""
    lines = ["#!/bin/sh", "set -e"]
    for parallel, entries in runs:
        opts = (f"--no-progress-meter --parallel --parallel-immediate --parallel-max {len(entries)} "
                if parallel else "")
        lines.append(f"curl {opts}--config - <<'CURL_CONFIG'")
        lines.append("\nnext\n".join(entries))
        lines.append("CURL_CONFIG")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("minimal", "replay"):
        p = sub.add_parser(name)
        p.add_argument("--base", required=True)
        p.add_argument("model")
        p.add_argument("cur", type=int)
        p.add_argument("tgt", type=int)
        if name == "replay":
            p.add_argument("trace")
        p.add_argument("--upto-live", action="store_true")
        if name == "minimal":
            p.add_argument("--parallel", action="store_true")
        else:
            p.add_argument("--sequential", action="store_true")
    a = ap.parse_args()
    runs = minimal(a) if a.cmd == "minimal" else replay(a)
    n = sum(len(e) for _, e in runs)
    if len(runs) == 1 and not runs[0][0]:
        print("\nnext\n".join(runs[0][1]))
        print(f"floor: {n} requests, one curl config", file=sys.stderr)
    else:
        print(script(runs))
        print(f"floor: {n} requests, a shell script of {len(runs)} curl processes "
              f"({sum(p for p, _ in runs)} of them parallel)", file=sys.stderr)


if __name__ == "__main__":
    main()
