#!/usr/bin/env python3
"""Turn bench/run.sh's hyperfine JSON exports into one markdown report (stdlib only).

Usage: summarize.py --out FILE --meta META.json ROLLBACK.json CANDIDATE.json VERSION.json [ANATOMY.md]
Prints the report and writes it to FILE.
"""
import argparse
import json
import statistics


def rows(path):
    with open(path) as f:
        for r in json.load(f)["results"]:
            t = sorted(r["times"])
            yield r["command"], len(t), t[0], statistics.median(t), t[-1], r.get("mean"), r.get("stddev")


def ms(s):
    return f"{s * 1000:.1f}" if s < 10 else f"{s * 1000:.0f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--meta", required=True)
    ap.add_argument("rollback")
    ap.add_argument("candidate")
    ap.add_argument("version")
    ap.add_argument("anatomy", nargs="?")
    a = ap.parse_args()
    meta = json.load(open(a.meta))

    rb = list(rows(a.rollback))
    cand = list(rows(a.candidate))
    ver = list(rows(a.version))
    mlrb_rb = next(r[1:] for r in rb if r[0].startswith("mlrb"))
    ref_rb = next(r[1:] for r in rb if not r[0].startswith("mlrb"))
    ratio = ref_rb[2] / mlrb_rb[2]
    cand, ver = cand[0][1:], ver[0][1:]
    c_med, v_med = cand[2], ver[2]

    def line(label, target, r):
        n, lo, med, hi = r[0], r[1], r[2], r[3]
        return f"| {label} | {n} | {ms(lo)} | {ms(med)} | {ms(hi)} | {target} |"

    ok = lambda b: "**met**" if b else "**NOT met**"
    out = []
    out.append(f"# mlrb benchmark — {meta['date']}")
    out.append("")
    out.append(f"- machine: `nproc` = {meta['nproc']}, `uname -r` = {meta['uname']}, "
               f"load average (1/5/15 min) {meta['loadavg']}")
    out.append(f"- background build (`pgrep -f 'go build|make WHAT|compile'`) during measurement: "
               f"{meta['background']}")
    out.append(f"- mlrb {meta['mlrb_version']} (git {meta['git']}), release build; "
               f"reference: `{meta['reference']}` run by mlflow {meta['mlflow_version']}'s Python")
    out.append(f"- one local MLflow server, `--workers 1`, SQLite backend, fresh temp dir; "
               f"hyperfine {meta['hyperfine']}, `-N` (no shell)")
    out.append(f"- command: `{meta['command']}`")
    out.append("")
    out.append("| what | runs | min ms | median ms | max ms | target |")
    out.append("|---|---:|---:|---:|---:|---|")
    out.append(line("`mlrb rollback model seed5 --yes -q` (whole process)",
                    f"≥10× faster than reference: {ok(ratio >= 10)}", mlrb_rb))
    out.append(line("reference `seed_rollback.py --model seed5 --current 5` (whole process)",
                    "—", ref_rb))
    out.append(line("`mlrb candidate seed2010` (2 010 versions)",
                    f"≤ 50 ms: {ok(c_med <= 0.050)}", cand))
    out.append(line("`mlrb --version`", f"≤ 5 ms: {ok(v_med <= 0.005)}", ver))
    out.append("")
    out.append(f"Whole-process rollback, ratio of medians (reference / mlrb): **{ratio:.1f}×**.")
    out.append("")
    out.append("Fixtures: `seed5` = v1–v3 Archived, v4 Archived + `rollback.healthy_baseline=true`, "
               "v5 Production; reset before every rollback run (`bench/fixture.py reset`: v5 Production, "
               "v4 Archived, every other `rollback.*` tag deleted from the versions and the registered model (mlrb's lease tags), mlrb journal dir emptied), and each "
               "reset first checks the previous run really rolled back (v4 Production, v5 Archived, "
               "audit tags on both). `seed2010` = 2 010 versions, every 50th tagged healthy baseline, "
               "v2010 Production. Targets are judged on the median.")
    if a.anatomy:
        out.append("")
        out.append(open(a.anatomy).read().rstrip())
    text = "\n".join(out) + "\n"
    with open(a.out, "w") as f:
        f.write(text)
    print(text, end="")


if __name__ == "__main__":
    main()
