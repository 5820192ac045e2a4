#!/usr/bin/env python3
"""Turn bench/run.sh's hyperfine JSON exports into one markdown report (stdlib only).

Usage: summarize.py --out FILE --meta META.json --results DIR [--anatomy ANATOMY.md]
Reads DIR/latest-{rollback,live,live-floors,candidate,version,scale,scale-rollback}.json, prints
the report and writes it to FILE.
"""
import argparse
import json
import os
import statistics


def rows(path):
    with open(path) as f:
        for r in json.load(f)["results"]:
            t = sorted(r["times"])
            yield r["command"], (len(t), t[0], statistics.median(t), t[-1])


def live_row(path):
    with open(path) as f:
        t = sorted(json.load(f)["times"])
    return len(t), t[0], statistics.median(t), t[-1]


def ms(s):
    return f"{s * 1000:.1f}" if s < 10 else f"{s * 1000:.0f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--meta", required=True)
    ap.add_argument("--results", required=True)
    ap.add_argument("--anatomy")
    a = ap.parse_args()
    meta = json.load(open(a.meta))
    res = lambda name: os.path.join(a.results, f"latest-{name}.json")

    rb = dict(rows(res("rollback")))
    pick = lambda d, prefix: next(v for k, v in d.items() if k.startswith(prefix))
    mlrb, ref = pick(rb, "mlrb"), pick(rb, "reference")
    fa, fb = pick(rb, "floor (a):"), pick(rb, "floor (b):")
    fa_par, fb_seq = pick(rb, "floor (a∥)"), pick(rb, "floor (b-seq)")
    live = live_row(res("live"))
    lf = dict(rows(res("live-floors")))
    fa_live, fb_live = pick(lf, "floor (a)"), pick(lf, "floor (b)")
    cand = pick(dict(rows(res("candidate"))), "mlrb")
    ver = pick(dict(rows(res("version"))), "mlrb")
    scale = dict(rows(res("scale")))
    s_status, s_cand = pick(scale, "mlrb status"), pick(scale, "mlrb candidate")
    s_dry = pick(scale, "mlrb rollback")
    srb = dict(rows(res("scale-rollback")))
    s_rb, s_fa, s_fb = pick(srb, "mlrb"), pick(srb, "floor (a) "), pick(srb, "floor (b) ")
    s_fa_par = pick(srb, "floor (a∥)")

    med = lambda r: r[2]
    ratio_ref = med(ref) / med(mlrb)
    # A floor is the fastest way its requests were sent: with or without concurrency.
    floor_a, floor_b = min(med(fa), med(fa_par)), min(med(fb), med(fb_seq))
    ratio_a = med(mlrb) / floor_a
    ratio_b = med(mlrb) / floor_b

    def line(label, target, r):
        n, lo, m, hi = r
        return f"| {label} | {n} | {ms(lo)} | {ms(m)} | {ms(hi)} | {target} |"

    ok = lambda b: "**met**" if b else "**NOT met**"
    req, fa_req = int(meta["requests"]), int(meta["floor_a_requests"])
    out = [f"# mlrb benchmark — {meta['date']}", ""]
    out.append(f"- machine: `nproc` = {meta['nproc']}, `uname -r` = {meta['uname']}, "
               f"load average (1/5/15 min) {meta['loadavg']}")
    out.append(f"- background build (`pgrep -f 'go build|make WHAT|compile'`) during measurement: "
               f"{meta['background']}")
    out.append(f"- mlrb {meta['mlrb_version']} (git {meta['git']}), release build; "
               f"reference: `{meta['reference']}` run by mlflow {meta['mlflow_version']}'s Python")
    out.append(f"- one local MLflow server, `--workers 1`, SQLite backend, fresh temp dir "
               f"(fixtures {meta['fixtures']}); hyperfine {meta['hyperfine']}, `-N` (no shell)")
    out.append(f"- command: `{meta['command']}`")
    out.append("")
    out.append("## Rollback, whole process (`seed5`, reset before every run)")
    out.append("")
    out.append("| what | runs | min ms | median ms | max ms | target |")
    out.append("|---|---:|---:|---:|---:|---|")
    out.append(line(f"`mlrb rollback model seed5 --yes -q` ({req} requests)",
                    f"≤ 1.15× floor (b), ≤ 1.5× floor (a) (each the faster of its two forms), "
                    f"≥ 10× faster than reference", mlrb))
    out.append(line(f"floor (a): the {fa_req} requests a stage-mode rollback needs, curl, one connection",
                    "—", fa))
    out.append(line("floor (a∥): the same, the 10 audit tags at once (`curl --parallel`)", "—", fa_par))
    out.append(line(f"floor (b): mlrb's own {req} requests by curl, what mlrb sends at once sent at "
                    f"once ({meta['floor_b_shape']})", "—", fb))
    out.append(line(f"floor (b-seq): mlrb's own {req} requests by curl, one at a time, one connection",
                    "—", fb_seq))
    out.append(line("reference `seed_rollback.py --model seed5 --current 5`", "—", ref))
    out.append("")
    out.append(f"- mlrb / floor (b): **{ratio_b:.2f}×** against the faster of (b) and (b-seq) "
               f"(≤ 1.15×: {ok(ratio_b <= 1.15)}) — mlrb's own time beside its requests: "
               f"{ms(med(mlrb) - floor_b)} ms (median difference). mlrb / (b) "
               f"**{med(mlrb) / med(fb):.2f}×**, mlrb / (b-seq) **{med(mlrb) / med(fb_seq):.2f}×**; "
               f"(b) starts one curl process per group sent at once or in turn (a few ms each)")
    out.append(f"- mlrb / floor (a): **{ratio_a:.2f}×** against the faster of (a) and (a∥) "
               f"(≤ 1.5×: {ok(ratio_a <= 1.5)}); floor (a) has no "
               f"cross-machine safety: mlrb adds the bakery lease (doorway write, read, numbered write, "
               f"read), the read of unfinished records, the verification's read and the lease's removal, "
               f"and writes the `rollback.history` audit tag on both versions. mlrb / (a) "
               f"**{med(mlrb) / med(fa):.2f}×**, mlrb / (a∥) **{med(mlrb) / med(fa_par):.2f}×**")
    out.append(f"- reference / mlrb: **{ratio_ref:.1f}×** (≥ 10×: {ok(ratio_ref >= 10)})")
    out.append(f"- requests: {req} in all; the target is live after request {meta['requests_to_live']}; "
               f"{meta['requests_after_outcome']} after the outcome line (the lease's removal)")
    out.append("")
    out.append("## Time until the target is live (process start → the target's transition returned)")
    out.append("")
    out.append("| what | runs | min ms | median ms | max ms | |")
    out.append("|---|---:|---:|---:|---:|---|")
    out.append(line("`mlrb rollback model seed5 --yes` (until its step 1 line)", "—", live))
    out.append(line("floor (a) cut after the transition (3 requests)", "—", fa_live))
    out.append(line(f"floor (b) cut after the transition ({meta['requests_to_live']} requests)", "—",
                    fb_live))
    out.append("")
    out.append("## Candidate, start-up")
    out.append("")
    out.append("| what | runs | min ms | median ms | max ms | target |")
    out.append("|---|---:|---:|---:|---:|---|")
    out.append(line("`mlrb candidate seed2010` (2 010 versions)", f"≤ 50 ms: {ok(med(cand) <= 0.050)}", cand))
    out.append(line("`mlrb --version`", f"≤ 5 ms: {ok(med(ver) <= 0.005)}", ver))
    out.append("")
    out.append("## Scale: `seed10k`, 10 000 versions")
    out.append("")
    out.append("| what | runs | min ms | median ms | max ms | target |")
    out.append("|---|---:|---:|---:|---:|---|")
    out.append(line("`mlrb status seed10k`", f"≤ 1 s: {ok(med(s_status) <= 1.0)}", s_status))
    out.append(line("`mlrb candidate seed10k`", "—", s_cand))
    out.append(line("`mlrb rollback model seed10k --dry-run`", "—", s_dry))
    out.append(line(f"`mlrb rollback model seed10k --yes -q` (whole rollback, {meta['requests10k']} requests, "
                    "reset before each)", f"≤ 1.5 s: {ok(med(s_rb) <= 1.5)}", s_rb))
    out.append(line(f"floor (a) on seed10k: the {fa_req} requests by curl", "—", s_fa))
    out.append(line("floor (a∥) on seed10k: the same, the 10 audit tags at once", "—", s_fa_par))
    out.append(line(f"floor (b) on seed10k: mlrb's {meta['requests10k']} requests by curl, its groups "
                    "at once", "—", s_fb))
    out.append("")
    out.append(f"- seed10k rollback: mlrb / floor (b) **{med(s_rb) / med(s_fb):.2f}×**, mlrb / floor (a) "
               f"**{med(s_rb) / med(s_fa):.2f}×**, mlrb / floor (a∥) **{med(s_rb) / med(s_fa_par):.2f}×**. At 10 000 versions MLflow 3.17 answers every tag write "
               f"(and alias or tag removal) by loading the whole model (its `_is_prompt` check calls "
               f"`get_registered_model`, which loads every version): a tag write costs 0.1–0.3 s "
               f"there instead of ~10 ms, whoever sends it, so the floors carry that cost too.")
    out.append("")
    out.append("Fixtures: `seed5` = v1–v3 Archived, v4 Archived + `rollback.healthy_baseline=true`, "
               "v5 Production; reset before every rollback run (`bench/fixture.py reset`: v5 Production, "
               "v4 Archived, every other `rollback.*` tag deleted from the versions and the registered "
               "model (mlrb's lease tags), mlrb journal dir emptied), and each reset first checks the "
               "previous run really rolled back (v4 Production, v5 Archived, audit tags on both). "
               "`seed2010` = 2 010 versions, every 50th tagged healthy baseline, v2010 Production. "
               "`seed10k` = 10 000 versions in stage None, every 50th tagged healthy baseline, v10000 "
               "Production; its rollback goes to v9950 and is reset and checked the same way. Targets "
               "are judged on the median; the machine runs other engineers' builds and tests, so "
               "single runs are noisy.")
    if a.anatomy:
        out.append("")
        out.append(open(a.anatomy).read().rstrip())
    text = "\n".join(out) + "\n"
    with open(a.out, "w") as f:
        f.write(text)
    print(text, end="")


if __name__ == "__main__":
    main()
