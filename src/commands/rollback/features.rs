//! `mlrb rollback features`: restore the feature pipeline's path (code and `.dvc` files) to a
//! known-good commit with git2, restore its data with DVC after checking every object is
//! available, commit; on any failure the work tree is put back. No data is ever lost.

use super::close_event;
use std::path::{Path, PathBuf};
use std::time::Instant;

use git2::{Commit, Repository};
use serde::Serialize;

use super::{Confirmation, clean_reason, confirm, detected_at, triggered_by};
use crate::cli::FeaturesRollbackArgs;
use crate::clock;
use crate::commands::{Ctx, Result};
use crate::error::{CliError, ExitStatus};
use crate::exec::{Cmd, dvc, git};
use crate::journal::{Entry, Journal, new_event_id};
use crate::mttr;

enum Step {
    Restore,
    Run(Cmd),
    Commit,
    Push(Cmd),
}

#[derive(Serialize)]
struct Undone {
    id: String,
    time: String,
    summary: String,
}

#[derive(Serialize)]
struct Outcome<'a> {
    event_id: Option<&'a str>,
    outcome: &'a str,
    message: &'a str,
    model: &'a str,
    repo: String,
    path: String,
    to_commit: String,
    undone: &'a [Undone],
    diff_stat: &'a str,
    plan: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    mttr: Option<mttr::Mttr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    report: Option<String>,
}

fn usage(msg: String) -> anyhow::Error {
    CliError::usage(msg).into()
}

fn short(c: &Commit) -> String {
    c.id().to_string()[..10].to_string()
}

fn when(c: &Commit) -> String {
    chrono::DateTime::from_timestamp(c.time().seconds(), 0)
        .map(clock::fmt)
        .unwrap_or_default()
}

/// The `.dvc` files under `path` in `commit`, relative to the repository root, with their text.
fn dvc_files(repo: &Repository, commit: &Commit, path: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let Ok(tree) = commit.tree() else { return out };
    let Ok(entry) = tree.get_path(path) else {
        return out;
    };
    let Ok(obj) = entry.to_object(repo) else {
        return out;
    };
    let mut found = Vec::new();
    match obj.as_tree() {
        Some(t) => {
            let _ = t.walk(git2::TreeWalkMode::PreOrder, |dir, e| {
                let name = e.name().unwrap_or("");
                if name.ends_with(".dvc") && e.kind() == Some(git2::ObjectType::Blob) {
                    found.push((path.join(dir).join(name), e.id()));
                }
                git2::TreeWalkResult::Ok
            });
        }
        None if path.extension().is_some_and(|e| e == "dvc") => {
            found.push((path.to_path_buf(), entry.id()))
        }
        None => {}
    }
    for (p, id) in found {
        if let Ok(b) = repo.find_blob(id) {
            out.push((p, String::from_utf8_lossy(b.content()).into_owned()));
        }
    }
    out
}

pub fn run(ctx: &Ctx, args: &FeaturesRollbackArgs) -> Result<ExitStatus> {
    let started_at = clock::now();
    let p = &ctx.printer;
    let detected = detected_at(args.common.detected_at.as_deref())?;
    let who = triggered_by(args.common.triggered_by.as_deref())?;
    let reason = clean_reason(args.common.reason.as_deref());
    let Some(cfg) = ctx
        .settings
        .models
        .get(&args.model)
        .and_then(|m| m.features.clone())
    else {
        return Err(CliError::usage(format!(
            "no feature pipeline is configured for `{}`",
            args.model
        ))
        .with_hint(format!(
            "add [models.{}.features] with repo = \"PATH\" and path = \"feature_pipeline\" to mlrb.toml",
            args.model
        ))
        .into());
    };
    let base = ctx
        .settings
        .config_path
        .as_deref()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let repo_dir = if cfg.repo.is_relative() {
        base.join(&cfg.repo)
    } else {
        cfg.repo.clone()
    };
    let repo = Repository::open(&repo_dir).map_err(|e| {
        usage(format!(
            "{} is not a git repository ({})",
            repo_dir.display(),
            e.message()
        ))
    })?;
    let root = repo
        .workdir()
        .map(Path::to_path_buf)
        .ok_or_else(|| usage(format!("{} is a bare repository", repo_dir.display())))?;
    let path = cfg.path.as_path();
    let shown = path.display().to_string();
    let head = repo.head().and_then(|h| h.peel_to_commit()).map_err(|e| {
        usage(format!(
            "{}: no HEAD commit ({})",
            root.display(),
            e.message()
        ))
    })?;

    let target = if let Some(c) = &args.to {
        repo.revparse_single(c)
            .and_then(|o| o.peel_to_commit())
            .map_err(|_| {
                anyhow::Error::from(
                    CliError::usage(format!(
                        "commit `{}` does not exist in {}",
                        c.escape_debug(),
                        root.display()
                    ))
                    .with_hint(format!(
                        "`git -C {} log -- {shown}` lists the pipeline's commits",
                        root.display()
                    )),
                )
            })?
    } else {
        let s = args.before.as_deref().unwrap_or_default();
        let t = clock::parse_time(s).map_err(|m| usage(format!("--before: {m}")))?;
        if t > clock::now() + chrono::Duration::seconds(5) {
            return Err(usage(format!(
                "--before {} is in the future; give a time before the bad change (UTC)",
                clock::fmt(t)
            )));
        }
        git::newest_touching_before(&repo, path, t.timestamp())
            .map_err(|e| usage(format!("cannot read the history: {}", e.message())))?
            .ok_or_else(|| {
                usage(format!(
                    "no commit touching {shown} before {} in {}",
                    clock::fmt(t),
                    root.display()
                ))
            })?
    };
    let Some(target_id) = git::path_id(&target, path) else {
        return Err(usage(format!(
            "{shown} does not exist at commit {} ({}); it is not a state of the pipeline",
            short(&target),
            target.summary().unwrap_or("")
        )));
    };
    if git::path_id(&head, path) == Some(target_id) {
        let msg = format!(
            "{shown} at HEAD is already as at {} ({}); nothing changed",
            short(&target),
            target.summary().unwrap_or("")
        );
        p.status(&msg);
        if p.json() {
            p.out_json(
                &serde_json::json!({"event_id": null, "outcome": "no_change", "message": msg}),
            );
        }
        return Ok(ExitStatus::Success);
    }
    let undone: Vec<Undone> = git::commits_between(&repo, target.id(), path)
        .map_err(|e| usage(format!("cannot read the history: {}", e.message())))?
        .iter()
        .map(|c| Undone {
            id: short(c),
            time: when(c),
            summary: c.summary().unwrap_or("").to_string(),
        })
        .collect();
    let diff_stat = {
        let mut o = git2::DiffOptions::new();
        o.pathspec(path);
        repo.diff_tree_to_tree(Some(&head.tree()?), Some(&target.tree()?), Some(&mut o))
            .and_then(|d| d.stats())
            .map(|s| {
                format!(
                    "{} files changed, {} insertions(+), {} deletions(-)",
                    s.files_changed(),
                    s.insertions(),
                    s.deletions()
                )
            })
            .unwrap_or_default()
    };
    let dirty = git::dirty(&repo, path)
        .map_err(|e| usage(format!("cannot read the status: {}", e.message())))?;
    if !dirty.is_empty() {
        return Err(CliError::new(
            ExitStatus::Refused,
            format!(
                "refusing to restore {shown}: it has uncommitted changes ({}{}); nothing was changed",
                dirty.iter().take(3).cloned().collect::<Vec<_>>().join(", "),
                if dirty.len() > 3 { ", …" } else { "" }
            ),
        )
        .with_hint(format!(
            "commit or stash them first (`git -C {} stash -- {shown}`)",
            root.display()
        ))
        .into());
    }

    // DVC: every object the target needs must be available before the work tree is touched,
    // because `dvc checkout --force` deletes a file whose object is missing.
    let mut steps = vec![Step::Restore];
    let target_dvc = if cfg.dvc {
        dvc_files(&repo, &target, path)
    } else {
        Vec::new()
    };
    let head_dvc = if cfg.dvc {
        dvc_files(&repo, &head, path)
    } else {
        Vec::new()
    };
    let mut put_back_dvc: Vec<String> = Vec::new();
    if !target_dvc.is_empty() || !head_dvc.is_empty() {
        let probe = dvc::cmd(&root, &["version"]);
        probe
            .resolve()
            .map_err(|e| CliError::usage(format!("{e}; nothing was changed")))?;
        let head_targets: Vec<String> = head_dvc
            .iter()
            .map(|(p, _)| p.display().to_string())
            .collect();
        if !head_targets.is_empty() {
            let mut a = vec!["status", "--json"];
            a.extend(head_targets.iter().map(String::as_str));
            let out = dvc::cmd(&root, &a).run().map_err(|e| {
                CliError::new(ExitStatus::Failure, format!("{e}; nothing was changed"))
            })?;
            let v: serde_json::Value = serde_json::from_str(out.stdout.trim()).unwrap_or_default();
            if v.as_object().is_some_and(|o| !o.is_empty()) {
                return Err(CliError::new(
                    ExitStatus::Refused,
                    format!(
                        "refusing to restore {shown}: its data differs from what its .dvc files record ({}); nothing was changed",
                        crate::http::one_line(out.stdout.trim(), 200)
                    ),
                )
                .with_hint("`dvc status` shows the changes; `dvc add` and commit them (or `dvc checkout` to drop them) first")
                .into());
            }
        }
        let cache = root.join(".dvc/cache");
        let missing: Vec<dvc::Out> = target_dvc
            .iter()
            .flat_map(|(_, t)| dvc::outs(t))
            .filter(|o| !dvc::has_object(&cache, &o.md5))
            .collect();
        let targets: Vec<String> = target_dvc
            .iter()
            .map(|(p, _)| p.display().to_string())
            .collect();
        if !missing.is_empty() {
            let remote_dir = local_remote(&root, cfg.remote.as_deref());
            match remote_dir {
                Some(Ok(dir)) => {
                    let absent: Vec<&dvc::Out> = missing
                        .iter()
                        .filter(|o| !dvc::has_object(&dir, &o.md5))
                        .collect();
                    if !absent.is_empty() {
                        return Err(missing_objects(
                            &absent,
                            &format!("the cache nor the remote {}", dir.display()),
                        ));
                    }
                }
                Some(Err(())) => {}
                None => {
                    return Err(missing_objects(
                        &missing.iter().collect::<Vec<_>>(),
                        "the cache, and no DVC remote is configured",
                    ));
                }
            }
            let mut a = vec!["fetch".to_string()];
            if let Some(r) = &cfg.remote {
                a.push("--remote".into());
                a.push(r.clone());
            }
            a.extend(targets.iter().cloned());
            let a: Vec<&str> = a.iter().map(String::as_str).collect();
            steps.push(Step::Run(dvc::cmd(&root, &a)));
        }
        if !targets.is_empty() {
            let mut a = vec!["checkout", "--force"];
            a.extend(targets.iter().map(String::as_str));
            steps.push(Step::Run(dvc::cmd(&root, &a)));
        }
        if head_dvc
            .iter()
            .flat_map(|(_, t)| dvc::outs(t))
            .all(|o| dvc::has_object(&cache, &o.md5))
        {
            put_back_dvc = head_targets;
        }
    }
    if !args.no_commit {
        steps.push(Step::Commit);
    }
    if args.push {
        steps.push(Step::Push(git::push(&root)));
    }
    let describe = |s: &Step| match s {
        Step::Restore => format!(
            "git2      restore {shown} (work tree + index) to {} in {}",
            short(&target),
            root.display()
        ),
        Step::Run(c) | Step::Push(c) => format!("run       {}", c.line()),
        Step::Commit => "git2      commit the restored files (message names the event id)".into(),
    };
    let lines: Vec<String> = steps.iter().map(describe).collect();
    if !p.json() {
        let mut t = format!(
            "Feature pipeline rollback plan for {} ({}, {shown}): HEAD {} → {} ({}, {})\n",
            args.model,
            root.display(),
            short(&head),
            short(&target),
            when(&target),
            target.summary().unwrap_or("")
        );
        t.push_str(&format!("  commits undone ({}):\n", undone.len()));
        for u in &undone {
            t.push_str(&format!("    {} {} {}\n", u.id, u.time, u.summary));
        }
        t.push_str(&format!("  diff: {diff_stat}\n"));
        for (i, l) in lines.iter().enumerate() {
            t.push_str(&format!("  {:>2}. {l}\n", i + 1));
        }
        t.push_str(&format!(
            "  {:>2}. verify    {shown} matches {}{}\n",
            lines.len() + 1,
            short(&target),
            if cfg.dvc { "; dvc status is clean" } else { "" }
        ));
        p.out(&t);
    }
    let outcome_json = |event: Option<&str>, outcome: &str, message: &str, m, r| {
        serde_json::to_value(Outcome {
            event_id: event,
            outcome,
            message,
            model: &args.model,
            repo: root.display().to_string(),
            path: shown.clone(),
            to_commit: target.id().to_string(),
            undone: &undone,
            diff_stat: &diff_stat,
            plan: &lines,
            mttr: m,
            report: r,
        })
        .unwrap_or_default()
    };
    if args.common.dry_run {
        return Ok(super::dry_run_done(p, || {
            outcome_json(None, "dry_run", "nothing was changed", None, None)
        }));
    }
    let how = match confirm(
        p,
        args.common.yes,
        &format!("Restore {shown} to {}?", short(&target)),
    )? {
        Confirmation::Yes(how) => how,
        Confirmation::Declined => {
            p.status("declined: nothing was changed");
            return Ok(ExitStatus::Refused);
        }
    };
    let event = new_event_id("rollback");
    let mut journal = Journal::new(&ctx.settings.state_dir, &event);
    journal.append(Entry::Started {
        command: "rollback features".into(),
        model: args.model.clone(),
        registered_name: shown.clone(),
        registry: root.display().to_string(),
        mode: "git".into(),
        from: Vec::new(),
        to: 0,
        to_reason: format!("commit {}", target.id()),
        reason: reason.clone(),
        triggered_by: who.clone(),
        detected_at: detected,
        started_at,
    });
    journal.append(Entry::Target {
        kind: "features".into(),
        summary: format!(
            "The feature pipeline of model `{}` ({shown} in {}) was restored from {} to commit {} ({}), undoing {} commit(s): {}; triggered by {who}, due to:",
            args.model,
            root.display(),
            short(&head),
            short(&target),
            target.summary().unwrap_or(""),
            undone.len(),
            diff_stat
        ),
    });
    let mut plan_lines = lines.clone();
    plan_lines.push(format!("verify {shown}"));
    journal.append(Entry::Plan {
        steps: plan_lines,
        detail: Vec::new(),
        live_mode: None,
    });
    journal.append(Entry::Confirmed { how });

    let total = steps.len() + 1;
    let mut failure: Option<String> = None;
    let mut restored = false;
    let mut committed = false;
    for (i, step) in steps.iter().enumerate() {
        let line = describe(step);
        journal.append(Entry::StepStarted {
            index: i,
            step: line.clone(),
        });
        let t0 = Instant::now();
        let r: std::result::Result<String, String> = match step {
            Step::Restore => git::restore_path(&repo, &target, path)
                .map(|_| {
                    restored = true;
                    format!("{shown} restored to {}", short(&target))
                })
                .map_err(|e| format!("git restore failed: {}", e.message())),
            Step::Run(c) => c
                .run()
                .map(|o| {
                    let t = crate::exec::runner::tail(&format!("{}{}", o.stdout, o.stderr), 2, 300);
                    if t.is_empty() { c.line() } else { t }
                })
                .map_err(|e| e.to_string()),
            Step::Commit => git::commit_index(
                &repo,
                &format!(
                    "Roll back {shown} to {} (mlrb {event})\n\nmlrb rollback features {}: restore {shown} as of {} ({}).\nReason: {}\nTriggered by: {who}\n",
                    short(&target),
                    args.model,
                    target.id(),
                    target.summary().unwrap_or(""),
                    if reason.is_empty() { "none given" } else { &reason }
                ),
            )
            .map(|id| {
                committed = true;
                format!("committed {}", &id.to_string()[..10])
            })
            .map_err(|e| format!("git commit failed: {}", e.message())),
            Step::Push(c) => c
                .run()
                .map(|_| "pushed".to_string())
                .map_err(|e| format!("{e} (the commit is in place locally; push it by hand)")),
        };
        let millis = t0.elapsed().as_millis() as u64;
        let ok = r.is_ok();
        let detail = match r {
            Ok(d) | Err(d) => d,
        };
        p.status(&format!(
            "  {} [{}/{total}] {detail} ({millis} ms)",
            if ok { "✓" } else { "✗" },
            i + 1
        ));
        journal.append(Entry::StepFinished {
            index: i,
            ok,
            detail: detail.clone(),
            millis,
        });
        if !ok {
            let mut msg = format!("step {}/{total} failed: {detail}", i + 1);
            if restored && !committed {
                msg.push_str(&put_back(&repo, &head, path, &root, &put_back_dvc));
            }
            failure = Some(msg);
            break;
        }
    }
    let (status, message) = match failure {
        Some(m) => (ExitStatus::Failure, m),
        None => {
            let v = super::verify_step(
                p,
                &mut journal,
                steps.len(),
                format!("verify {shown}"),
                || verify(&repo, &root, path, target_id, args.no_commit, &target_dvc),
            );
            let ok = v.is_ok();
            let detail = match v {
                Ok(d) | Err(d) => d,
            };
            if ok {
                (
                    ExitStatus::Success,
                    format!(
                        "restored {shown} to {}{}, verified",
                        short(&target),
                        if args.no_commit {
                            " (staged, not committed)"
                        } else {
                            ""
                        }
                    ),
                )
            } else {
                (
                    ExitStatus::NotVerified,
                    format!("restored {shown}, but not verified: {detail}"),
                )
            }
        }
    };
    let hint = format!(
        "`git -C {} status` shows the work tree (journal event {event})",
        root.display()
    );
    close_event(
        ctx,
        &mut journal,
        status,
        super::outcome_of(status),
        message.clone(),
        hint,
        |outcome, m, r| outcome_json(Some(&event), outcome, &message, m, r),
    )
}

/// The directory of a local-directory DVC remote: `Some(Ok(dir))` when the remote is a local
/// path, `Some(Err)` when it is remote storage mlrb cannot look into, `None` when none is set.
fn local_remote(root: &Path, name: Option<&str>) -> Option<std::result::Result<PathBuf, ()>> {
    let out = dvc::cmd(root, &["remote", "list"]).run().ok()?;
    let default = dvc::cmd(root, &["remote", "default"])
        .run()
        .ok()
        .map(|o| o.stdout.trim().to_string());
    let want = name.map(str::to_string).or(default)?;
    let url = out.stdout.lines().find_map(|l| {
        let mut it = l.split_whitespace();
        (it.next() == Some(want.as_str())).then(|| it.next().unwrap_or("").to_string())
    })?;
    if url.contains("://") && !url.starts_with("file://") {
        return Some(Err(()));
    }
    let p = PathBuf::from(url.trim_start_matches("file://"));
    Some(Ok(if p.is_relative() {
        root.join(".dvc").join(p)
    } else {
        p
    }))
}

fn missing_objects(missing: &[&dvc::Out], where_: &str) -> anyhow::Error {
    CliError::new(
        ExitStatus::Failure,
        format!(
            "the data of the target commit is not available: {} in neither {where_}; nothing was changed (no file was deleted)",
            missing
                .iter()
                .map(|o| format!("{} (md5 {})", o.path, o.md5))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    )
    .with_hint("push the objects to the DVC remote from a machine that has them (`dvc push`), or set [models.*.features].remote")
    .into()
}

/// Puts the path back as it was at HEAD after a failed step; returns what it did.
fn put_back(
    repo: &Repository,
    head: &Commit,
    path: &Path,
    root: &Path,
    dvc_targets: &[String],
) -> String {
    let mut s = match git::restore_path(repo, head, path) {
        Ok(()) => format!("; {} put back as at HEAD", path.display()),
        Err(e) => format!(
            "; could NOT put {} back ({}): `git -C {} checkout HEAD -- {}` does",
            path.display(),
            e.message(),
            root.display(),
            path.display()
        ),
    };
    if !dvc_targets.is_empty() {
        let mut a = vec!["checkout"];
        a.extend(dvc_targets.iter().map(String::as_str));
        match dvc::cmd(root, &a).run() {
            Ok(_) => s.push_str(", data restored with dvc checkout"),
            Err(e) => s.push_str(&format!(", dvc checkout of the old data failed: {e}")),
        }
    }
    s
}

fn verify(
    repo: &Repository,
    root: &Path,
    path: &Path,
    want: git2::Oid,
    staged: bool,
    target_dvc: &[(PathBuf, String)],
) -> std::result::Result<String, String> {
    let got = if staged {
        let mut idx = repo.index().map_err(|e| e.message().to_string())?;
        let tree = idx.write_tree().map_err(|e| e.message().to_string())?;
        repo.find_tree(tree)
            .ok()
            .and_then(|t| t.get_path(path).ok().map(|e| e.id()))
    } else {
        repo.head()
            .and_then(|h| h.peel_to_commit())
            .ok()
            .and_then(|c| git::path_id(&c, path))
    };
    if got != Some(want) {
        return Err(format!("{} does not match the target tree", path.display()));
    }
    if !target_dvc.is_empty() {
        let mut a = vec!["status".to_string(), "--json".into()];
        a.extend(target_dvc.iter().map(|(p, _)| p.display().to_string()));
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        let out = dvc::cmd(root, &a).run().map_err(|e| e.to_string())?;
        let v: serde_json::Value = serde_json::from_str(out.stdout.trim()).unwrap_or_default();
        if v.as_object().is_some_and(|o| !o.is_empty()) {
            return Err(format!("dvc status is not clean: {}", out.stdout.trim()));
        }
        return Ok(format!(
            "{} matches the target; its data is in place (dvc status clean)",
            path.display()
        ));
    }
    Ok(format!("{} matches the target", path.display()))
}
