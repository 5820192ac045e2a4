#!/usr/bin/env python3
"""Benchmark fixtures for mlrb against a real MLflow server (Python stdlib only).

This is test-fixture code, not part of mlrb: it builds and resets the registry layouts that
bench/run.sh measures against, talking to the MLflow REST API over one kept-alive connection.

  fixture.py wait   --base URL [--timeout 120]
      Poll URL/health until it answers OK.
  fixture.py create --base URL NAME N [--healthy-every K] [--stage-layout] [--jobs J]
      Create registered model NAME with N versions.
        --stage-layout    v1..vN-2 Archived, vN-1 Archived + rollback.healthy_baseline=true,
                          vN Production (the "bad release" layout rollback starts from).
        --healthy-every K tag every K-th version rollback.healthy_baseline=true.
        --jobs J          create the versions over J connections at once (default 8): the
                          server numbers them, so 10 000 take about 2 minutes, not 4.
      Without --stage-layout the versions stay in stage None and vN goes to Production.
  fixture.py reset  --base URL NAME N [--target T] [--state-dir DIR] [--marker FILE]
      Restore the layout a rollback vN -> vT starts from (T defaults to N-1): vN Production,
      any other Production or Staging version Archived, vT tagged healthy and no version above
      it, every other rollback.* tag deleted (on the versions and on the registered model, where
      mlrb keeps its lease tags); empties --state-dir (the mlrb journal) so every run starts
      identically. Only what differs is written, so a reset of a 10 000-version model costs one
      listing and a few writes.  With --marker, every reset after the first also *checks* that
      the command measured since the previous reset really rolled back (vT Production, vN
      Archived, audit tags on both), so a silently failing run aborts the benchmark.
  fixture.py check-rolled-back --base URL NAME N [--target T]
      Exit 1 unless the registry shows a completed rollback from vN to vT (default N-1).
"""
import argparse
import http.client
import json
import os
import shutil
import socket
import sys
import threading
import time
import urllib.parse

HEALTHY = "rollback.healthy_baseline"
AUDIT = ("rollback.event_id", "rollback.timestamp", "rollback.triggered_by",
         "rollback.reason", "rollback.role")


class Api:
    def __init__(self, base):
        u = urllib.parse.urlparse(base)
        self.host, self.port = u.hostname, u.port or 80
        self.conn = None

    def _connect(self):
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        self.conn.connect()
        # http.client sends headers and body separately: without TCP_NODELAY, Nagle plus
        # delayed ACK adds ~40 ms per request.
        self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def raw(self, method, path, body=None):
        data = json.dumps(body) if body is not None else None
        for attempt in (0, 1):
            if self.conn is None:
                self._connect()
            try:
                self.conn.request(method, path, body=data,
                                  headers={"Content-Type": "application/json"})
                r = self.conn.getresponse()
                return r.status, r.read()
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise

    def call(self, method, path, body=None):
        status, txt = self.raw(method, "/api/2.0/mlflow/" + path, body)
        if status != 200:
            sys.exit(f"fixture: {method} {path} -> {status} {txt[:300]!r}")
        return json.loads(txt or b"{}")

    def versions(self, name):
        out, token = [], None
        while True:
            q = {"filter": f"name='{name}'", "max_results": 10000}
            if token:
                q["page_token"] = token
            page = self.call("GET", "model-versions/search?" + urllib.parse.urlencode(q))
            out += page.get("model_versions", [])
            token = page.get("next_page_token")
            if not token:
                return {int(v["version"]): v for v in out}

    def transition(self, name, v, stage):
        self.call("POST", "model-versions/transition-stage",
                  {"name": name, "version": str(v), "stage": stage,
                   "archive_existing_versions": False})

    def set_tag(self, name, v, key, value):
        self.call("POST", "model-versions/set-tag",
                  {"name": name, "version": str(v), "key": key, "value": value})

    def delete_tag(self, name, v, key):
        self.call("DELETE", "model-versions/delete-tag",
                  {"name": name, "version": str(v), "key": key})


def tags_of(mv):
    return {t["key"]: t.get("value", "") for t in mv.get("tags", [])}


def cmd_wait(a):
    api = Api(a.base)
    deadline = time.monotonic() + a.timeout
    while time.monotonic() < deadline:
        try:
            status, body = api.raw("GET", "/health")
            if status == 200 and body.strip().upper().startswith(b"OK"):
                return 0
        except (OSError, http.client.HTTPException):
            api.conn = None
        time.sleep(0.25)
    sys.exit(f"fixture: {a.base}/health not OK after {a.timeout}s")


def cmd_create(a):
    api = Api(a.base)
    t0 = time.perf_counter()
    api.call("POST", "registered-models/create", {"name": a.name})
    failed = []

    def worker(first):
        # The server numbers versions in the order it creates them, so what a version gets
        # (tag, stage) follows from the number it was given, not from the loop.
        w = Api(a.base)
        try:
            for i in range(first, a.n, a.jobs):
                mv = w.call("POST", "model-versions/create",
                            {"name": a.name, "source": f"s3://models/{a.name}/v{i + 1}"})
                v = int(mv["model_version"]["version"])
                if (a.healthy_every and v % a.healthy_every == 0) or (a.stage_layout and v == a.n - 1):
                    w.set_tag(a.name, v, HEALTHY, "true")
                if a.stage_layout and v < a.n:
                    w.transition(a.name, v, "Archived")
        except BaseException as e:  # sys.exit in a thread raises SystemExit there only
            failed.append(e)

    threads = [threading.Thread(target=worker, args=(j,)) for j in range(max(1, a.jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failed:
        sys.exit(f"fixture: creating {a.name} failed: {failed[0]}")
    api.transition(a.name, a.n, "Production")
    dt = time.perf_counter() - t0
    print(f"fixture: created {a.name} with {a.n} versions in {dt:.1f}s", file=sys.stderr)
    return 0


def rolled_back_problems(vs, n, target):
    """Why the registry does NOT show a completed rollback vN -> vT (empty list: it does)."""
    bad = []
    cur, tgt = vs.get(n), vs.get(target)
    if cur is None or tgt is None:
        return [f"v{n} or v{target} missing"]
    if tgt.get("current_stage") != "Production":
        bad.append(f"v{target} is {tgt.get('current_stage')}, expected Production")
    if cur.get("current_stage") != "Archived":
        bad.append(f"v{n} is {cur.get('current_stage')}, expected Archived")
    for v, role in ((target, "rollback_target"), (n, "rolled_back_from")):
        t = tags_of(vs[v])
        missing = [k for k in AUDIT if k not in t]
        if missing:
            bad.append(f"v{v} lacks audit tags {missing}")
        elif t["rollback.role"] != role:
            bad.append(f"v{v} rollback.role={t['rollback.role']!r}, expected {role!r}")
    return bad


def cmd_reset(a):
    api = Api(a.base)
    vs = api.versions(a.name)
    target = a.target or a.n - 1
    if a.marker:
        if os.path.exists(a.marker):
            bad = rolled_back_problems(vs, a.n, target)
            if bad:
                sys.exit("fixture: the measured run did not roll back: " + "; ".join(bad))
        else:
            open(a.marker, "w").close()
    if vs[a.n].get("current_stage") != "Production":
        api.transition(a.name, a.n, "Production")  # make vN live first, then archive the rest
    for v in sorted(vs):
        mv = vs[v]
        if v != a.n and mv.get("current_stage") in ("Production", "Staging"):
            api.transition(a.name, v, "Archived")
        t = tags_of(mv)
        for k in t:
            if k.startswith("rollback.") and k != HEALTHY:
                api.delete_tag(a.name, v, k)
        if v == target and t.get(HEALTHY) != "true":
            api.set_tag(a.name, v, HEALTHY, "true")
        if v > target and HEALTHY in t:
            api.delete_tag(a.name, v, HEALTHY)
    # Model-level rollback.* tags (mlrb's per-event lease tags, rollback.lease.<event>) would
    # pile up run after run; every run starts without them.
    model = api.call("GET", "registered-models/get?" + urllib.parse.urlencode({"name": a.name}))
    for t in model.get("registered_model", {}).get("tags", []):
        if t["key"].startswith("rollback."):
            api.call("DELETE", "registered-models/delete-tag", {"name": a.name, "key": t["key"]})
    if a.state_dir:
        shutil.rmtree(a.state_dir, ignore_errors=True)
    return 0


def cmd_check(a):
    bad = rolled_back_problems(Api(a.base).versions(a.name), a.n, a.target or a.n - 1)
    if bad:
        print("fixture: " + "; ".join(bad), file=sys.stderr)
        return 1
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("wait")
    w.add_argument("--base", required=True)
    w.add_argument("--timeout", type=float, default=120)
    c = sub.add_parser("create")
    c.add_argument("--base", required=True)
    c.add_argument("name")
    c.add_argument("n", type=int)
    c.add_argument("--healthy-every", type=int, default=0)
    c.add_argument("--stage-layout", action="store_true")
    c.add_argument("--jobs", type=int, default=8)
    r = sub.add_parser("reset")
    r.add_argument("--base", required=True)
    r.add_argument("name")
    r.add_argument("n", type=int)
    r.add_argument("--target", type=int)
    r.add_argument("--state-dir")
    r.add_argument("--marker")
    k = sub.add_parser("check-rolled-back")
    k.add_argument("--base", required=True)
    k.add_argument("name")
    k.add_argument("n", type=int)
    k.add_argument("--target", type=int)
    a = ap.parse_args()
    return {"wait": cmd_wait, "create": cmd_create, "reset": cmd_reset,
            "check-rolled-back": cmd_check}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
