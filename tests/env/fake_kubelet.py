#!/usr/bin/env python3
"""Fake kubelet + scheduler for mlrb's kubelet-less test control plane (stdlib only).

The control plane from tests/env/start-kube.sh has no scheduler and no kubelet, so pods would stay
Pending forever. This loop does their job through the real API server, every --interval seconds:
  * binds unscheduled pods to node "fake-node";
  * marks them Running + Ready, so Deployments become Available and `kubectl rollout status`
    completes; pods with an image containing "broken" (in any container) are left Running but
    NotReady (CrashLoopBackOff), which simulates a bad release whose rollout never finishes;
  * force-deletes pods that are terminating (no kubelet is there to finish graceful deletion).

Usage: fake_kubelet.py --kubeconfig DIR/kubeconfig [--interval 0.3]
       fake_kubelet.py --server https://127.0.0.1:PORT --token TOKEN
Only understands the simple token kubeconfig written by start-kube.sh.
"""
import argparse
import datetime
import json
import re
import ssl
import sys
import time
import urllib.error
import urllib.request

NODE = "fake-node"


class Api:
    def __init__(self, server, token):
        self.server = server.rstrip("/")
        self.token = token
        self.ctx = ssl._create_unverified_context()  # self-signed test apiserver

    def call(self, method, path, body=None, ctype="application/json"):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.server + path, data=data, method=method, headers={
            "Authorization": f"Bearer {self.token}", "Content-Type": ctype, "Accept": "application/json"})
        with urllib.request.urlopen(req, context=self.ctx, timeout=10) as resp:
            return json.loads(resp.read() or b"{}")


def read_kubeconfig(path):
    text = open(path, encoding="utf-8").read()
    server = re.search(r"^\s*server:\s*(\S+)", text, re.M)
    token = re.search(r"^\s*token:\s*(\S+)", text, re.M)
    if not server or not token:
        sys.exit(f"fake_kubelet: {path}: no server/token (only token kubeconfigs are supported)")
    return server.group(1), token.group(1)


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def is_current(status, ready):
    if status.get("phase") != "Running":
        return False
    return any(c.get("type") == "Ready" and (c.get("status") == "True") == ready
               for c in status.get("conditions", []))


def pod_status(spec, ready, ip):
    t = now()
    cond = "True" if ready else "False"
    containers = []
    for c in spec.get("containers", []):
        c_ready = ready
        containers.append({
            "name": c["name"], "image": c.get("image", ""), "imageID": "fake://" + c.get("image", ""),
            "containerID": "fake://" + c["name"], "ready": c_ready, "started": c_ready,
            "restartCount": 0 if c_ready else 3,
            "state": {"running": {"startedAt": t}} if c_ready else
                     {"waiting": {"reason": "CrashLoopBackOff",
                                  "message": "fake_kubelet: image contains 'broken'"}},
        })
    return {
        "phase": "Running", "hostIP": "10.99.0.1", "podIP": ip, "podIPs": [{"ip": ip}], "startTime": t,
        "conditions": [{"type": "PodScheduled", "status": "True", "lastTransitionTime": t},
                       {"type": "Initialized", "status": "True", "lastTransitionTime": t},
                       {"type": "ContainersReady", "status": cond, "lastTransitionTime": t},
                       {"type": "Ready", "status": cond, "lastTransitionTime": t}],
        "containerStatuses": containers,
    }


class Kubelet:
    def __init__(self, api):
        self.api = api
        self.ips = 0

    def tick(self):
        for pod in self.api.call("GET", "/api/v1/pods")["items"]:
            md, spec = pod["metadata"], pod["spec"]
            ns, name = md["namespace"], md["name"]
            base = f"/api/v1/namespaces/{ns}/pods/{name}"
            try:
                if md.get("deletionTimestamp"):
                    self.api.call("DELETE", base, {"gracePeriodSeconds": 0})
                    continue
                if not spec.get("nodeName"):
                    self.api.call("POST", base + "/binding", {
                        "apiVersion": "v1", "kind": "Binding", "metadata": {"name": name},
                        "target": {"apiVersion": "v1", "kind": "Node", "name": NODE}})
                ready = not any("broken" in c.get("image", "") for c in spec.get("containers", []))
                if is_current(pod.get("status", {}), ready):
                    continue
                self.ips += 1
                ip = f"10.244.{self.ips // 250 % 250}.{self.ips % 250 + 1}"
                self.api.call("PATCH", base + "/status", {"status": pod_status(spec, ready, ip)},
                              ctype="application/merge-patch+json")
            except urllib.error.HTTPError as e:
                if e.code not in (404, 409):  # pod vanished or changed under us: next tick
                    raise


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kubeconfig")
    ap.add_argument("--server")
    ap.add_argument("--token")
    ap.add_argument("--interval", type=float, default=0.3)
    args = ap.parse_args()
    if args.kubeconfig:
        server, token = read_kubeconfig(args.kubeconfig)
    elif args.server and args.token:
        server, token = args.server, args.token
    else:
        ap.error("give --kubeconfig, or --server and --token")
    kubelet = Kubelet(Api(server, token))
    last_err = None
    while True:
        try:
            kubelet.tick()
            last_err = None
        except Exception as e:  # the API server may be starting or stopping: keep going
            if str(e) != last_err:
                print(f"fake_kubelet: {e}", file=sys.stderr, flush=True)
                last_err = str(e)
        time.sleep(args.interval)


if __name__ == "__main__":
    main()
