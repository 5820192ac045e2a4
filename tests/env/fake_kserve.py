#!/usr/bin/env python3
"""Fake KServe controller for mlrb's tests (stdlib only): writes InferenceService status the way
KServe documents it, in serverless mode, through the real API server's status subresource.

Every --interval seconds, for each InferenceService in --namespace whose spec generation it has
not observed:
  * a changed predictor (anything but canaryTrafficPercent) makes a new revision
    NAME-predictor-0000N. Without canaryTrafficPercent it takes all traffic and becomes the
    latest rolled-out revision (the one before becomes previousRolledoutRevision). With
    canaryTrafficPercent P it gets P% and the latest rolled-out revision keeps 100-P%
    (traffic tags `latest` and `prev`).
  * a storageUri containing "broken" makes a revision that never becomes ready: it is the latest
    created, not the latest ready; Ready and PredictorConfigurationReady are False with reason
    RevisionFailed and the model status records a ModelLoadFailed failure; traffic stays where it
    was.
  * a change of canaryTrafficPercent alone splits traffic again between the latest rolled-out and
    the latest ready revision; 0 sends everything back to the rolled-out one; removing it
    promotes the latest ready revision.

Usage: fake_kserve.py --kubeconfig DIR/kubeconfig --namespace NS [--interval 0.3]
"""
import argparse
import datetime
import json
import re
import ssl
import sys
import time
import urllib.request

PATH = "/apis/serving.kserve.io/v1beta1/namespaces/{ns}/inferenceservices"


class Api:
    def __init__(self, server, token):
        self.server, self.token = server.rstrip("/"), token
        self.ctx = ssl._create_unverified_context()  # self-signed test apiserver

    def call(self, method, path, body=None, ctype="application/json"):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.server + path, data=data, method=method, headers={
            "Authorization": f"Bearer {self.token}", "Content-Type": ctype,
            "Accept": "application/json"})
        with urllib.request.urlopen(req, context=self.ctx, timeout=10) as resp:
            return json.loads(resp.read() or b"{}")


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def storage_uri(predictor):
    if isinstance(predictor.get("model"), dict):
        return predictor["model"].get("storageUri", "")
    for v in predictor.values():
        if isinstance(v, dict) and "storageUri" in v:
            return v["storageUri"]
    return ""


def conditions(ok, reason="", message=""):
    kinds = ["IngressReady", "LatestDeploymentReady", "PredictorConfigurationReady",
             "PredictorReady", "PredictorRouteReady", "Ready"]
    out = []
    for k in kinds:
        c = {"type": k, "status": "True", "lastTransitionTime": now()}
        if not ok and k in ("LatestDeploymentReady", "PredictorConfigurationReady", "Ready"):
            c.update(status="False", reason=reason, message=message)
        out.append(c)
    return out


def split(rolled, latest, canary):
    return [
        {"revisionName": rolled, "percent": 100 - canary, "tag": "prev", "latestRevision": False},
        {"revisionName": latest, "percent": canary, "tag": "latest", "latestRevision": True},
    ]


def reconcile(api, ns, isvc, seen):
    meta, spec, status = isvc["metadata"], isvc.get("spec", {}), isvc.get("status", {})
    gen = meta.get("generation", 1)
    if status.get("observedGeneration") == gen:
        return
    name, uid = meta["name"], meta["uid"]
    predictor = spec.get("predictor", {})
    canary = predictor.get("canaryTrafficPercent")
    template = json.dumps({k: v for k, v in predictor.items() if k != "canaryTrafficPercent"},
                          sort_keys=True)
    comp = dict(status.get("components", {}).get("predictor", {}))
    mem = seen.setdefault(uid, {"template": None, "n": 0})
    ok, reason, message, model_status = True, "", "", {"transitionStatus": "UpToDate",
                                                       "states": {"activeModelState": "Loaded",
                                                                  "targetModelState": "Loaded"}}
    if template != mem["template"]:
        mem["template"] = template
        mem["n"] += 1
        new = f"{name}-predictor-{mem['n']:05d}"
        comp["latestCreatedRevision"] = new
        uri = storage_uri(predictor)
        if "broken" in uri:
            ok, reason = False, "RevisionFailed"
            message = (f'Revision "{new}" failed with message: ModelLoadFailed: '
                       f'failed to load the model from {uri}.')
            model_status = {"transitionStatus": "BlockedByFailedLoad",
                            "states": {"activeModelState": "Loaded",
                                       "targetModelState": "FailedToLoad"},
                            "lastFailureInfo": {"reason": "ModelLoadFailed",
                                                "message": f"failed to load the model from {uri}"}}
        else:
            comp["latestReadyRevision"] = new
            rolled = comp.get("latestRolledoutRevision")
            if canary is not None and canary < 100 and rolled:
                comp["traffic"] = split(rolled, new, canary)
            else:
                if rolled:
                    comp["previousRolledoutRevision"] = rolled
                comp["latestRolledoutRevision"] = new
                comp["traffic"] = [{"revisionName": new, "percent": 100, "tag": "latest",
                                    "latestRevision": True}]
    else:
        latest, rolled = comp.get("latestReadyRevision"), comp.get("latestRolledoutRevision")
        if comp.get("latestCreatedRevision") != latest:
            # The failed revision is still the latest created: nothing new to report.
            ok, reason = False, "RevisionFailed"
            message = next((c.get("message", "") for c in status.get("conditions", [])
                            if c.get("type") == "Ready"), "")
            model_status = status.get("modelStatus", model_status)
        elif canary is None or canary >= 100 or not rolled or rolled == latest:
            if rolled and rolled != latest:
                comp["previousRolledoutRevision"] = rolled
            comp["latestRolledoutRevision"] = latest
            comp["traffic"] = [{"revisionName": latest, "percent": 100, "tag": "latest",
                                "latestRevision": True}]
        else:
            comp["traffic"] = split(rolled, latest, canary)
    url = f"http://{name}.{ns}.example.com"
    comp["url"] = f"http://{name}-predictor.{ns}.example.com"
    body = {"status": {"observedGeneration": gen, "url": url, "conditions": conditions(ok, reason, message),
                       "components": {"predictor": comp}, "modelStatus": model_status}}
    api.call("PATCH", PATH.format(ns=ns) + f"/{name}/status", body, "application/merge-patch+json")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kubeconfig", required=True)
    ap.add_argument("--namespace", required=True)
    ap.add_argument("--interval", type=float, default=0.3)
    a = ap.parse_args()
    text = open(a.kubeconfig, encoding="utf-8").read()
    server = re.search(r"^\s*server:\s*(\S+)", text, re.M)
    token = re.search(r"^\s*token:\s*(\S+)", text, re.M)
    if not server or not token:
        sys.exit(f"fake_kserve: {a.kubeconfig}: no server/token")
    api, seen = Api(server.group(1), token.group(1)), {}
    while True:
        try:
            for isvc in api.call("GET", PATH.format(ns=a.namespace)).get("items", []):
                reconcile(api, a.namespace, isvc, seen)
        except Exception as e:  # the API server may be briefly unavailable; try again
            print(f"fake_kserve: {e}", file=sys.stderr, flush=True)
        time.sleep(a.interval)


if __name__ == "__main__":
    main()
