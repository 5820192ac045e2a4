//! Feature pipeline rollback: restore the pipeline's path (code and `.dvc` files) to a
//! known-good commit with git2, restore its data with DVC after checking every object is
//! available, commit; on any failure the work tree is put back. No data is ever lost.

use std::path::{Path, PathBuf};

use git2::{Commit, Repository};
use serde::Serialize;

use crate::clock;
use crate::context::Ctx;
use crate::error::{CliError, ExitStatus};
use crate::exec::{Cmd, dvc, git};
use crate::journal::{Entry, Record};
use crate::rollback::{Kind, Plan, Planned, Request, Step, StepFailure, Subject};

type Result<T> = anyhow::Result<T>;

/// What `rollback features` was asked for.
pub struct Features {
    pub model: String,
    /// `repo` resolved against the config file's directory.
    pub cfg: crate::config::FeaturesConfig,
    pub to: Option<String>,
    pub before: Option<String>,
    pub no_commit: bool,
    pub push: bool,
}

impl Features {
    /// The kind for `model`, or the error saying how to configure it.
    pub fn for_model(ctx: &Ctx, model: &str) -> std::result::Result<Features, CliError> {
        let Some(cfg) = ctx
            .settings
            .models
            .get(model)
            .and_then(|m| m.features.clone())
        else {
            return Err(CliError::usage(format!(
                "no feature pipeline is configured for `{model}`"
            ))
            .with_hint(format!(
                "add [models.{model}.features] with repo = \"PATH\" and path = \"feature_pipeline\" to mlrb.toml"
            )));
        };
        Ok(Features {
            model: model.to_string(),
            cfg,
            to: None,
            before: None,
            no_commit: false,
            push: false,
        })
    }
}

/// One step of a feature rollback; each reopens the repository (git2 handles are not shared).
struct FeatureStep {
    what: What,
    root: PathBuf,
    path: PathBuf,
    target: git2::Oid,
    target_summary: String,
    commit_message: String,
}

enum What {
    Restore,
    Run(Cmd),
    Commit,
    Push(Cmd),
}

impl FeatureStep {
    fn repo(&self) -> std::result::Result<Repository, String> {
        Repository::open(&self.root).map_err(|e| e.message().to_string())
    }
    fn short(&self) -> String {
        self.target.to_string()[..10].to_string()
    }
}

impl Step for FeatureStep {
    fn line(&self) -> String {
        match &self.what {
            What::Restore => format!(
                "git2      restore {} (work tree + index) to {} in {}",
                self.path.display(),
                self.short(),
                self.root.display()
            ),
            What::Run(c) | What::Push(c) => format!("run       {}", c.line()),
            What::Commit => {
                "git2      commit the restored files (message names the event id)".into()
            }
        }
    }

    /// The commit is done when HEAD already holds the target's tree at the path (a commit made
    /// before a crash); the other steps are safe to run again.
    fn done(&self) -> bool {
        match &self.what {
            What::Commit => {
                let Ok(repo) = self.repo() else { return false };
                let at_head = repo
                    .head()
                    .and_then(|h| h.peel_to_commit())
                    .ok()
                    .and_then(|c| git::path_id(&c, &self.path));
                let at_target = repo
                    .find_commit(self.target)
                    .ok()
                    .and_then(|t| git::path_id(&t, &self.path));
                at_head.is_some() && at_head == at_target
            }
            _ => false,
        }
    }

    fn run(&self, event: &str) -> std::result::Result<String, StepFailure> {
        let shown = self.path.display();
        match &self.what {
            What::Restore => {
                let repo = self.repo()?;
                let target = repo
                    .find_commit(self.target)
                    .map_err(|e| e.message().to_string())?;
                git::restore_path(&repo, &target, &self.path)
                    .map(|_| format!("{shown} restored to {}", self.short()))
                    .map_err(|e| format!("git restore failed: {}", e.message()).into())
            }
            What::Run(c) => c
                .run()
                .map(|o| {
                    let t = crate::exec::runner::tail(&format!("{}{}", o.stdout, o.stderr), 2, 300);
                    if t.is_empty() { c.line() } else { t }
                })
                .map_err(|e| e.to_string().into()),
            What::Commit => {
                let repo = self.repo()?;
                let message = self
                    .commit_message
                    .replace("{event}", event)
                    .replace("{summary}", &self.target_summary);
                git::commit_index(&repo, &message)
                    .map(|id| format!("committed {}", &id.to_string()[..10]))
                    .map_err(|e| format!("git commit failed: {}", e.message()).into())
            }
            What::Push(c) => c.run().map(|_| "pushed".to_string()).map_err(|e| {
                format!("{e} (the commit is in place locally; push it by hand)").into()
            }),
        }
    }
}

#[derive(Serialize)]
pub struct Undone {
    id: String,
    time: String,
    summary: String,
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

impl Kind for Features {
    fn subject(&self) -> Subject {
        Subject {
            command: "rollback features",
            target: format!("{} in {}", self.cfg.path.display(), self.cfg.repo.display()),
            place: self.cfg.repo.display().to_string(),
        }
    }

    fn plan(&self, ctx: &Ctx, _req: &Request, resuming: Option<&Record>) -> Result<Planned> {
        let _ = ctx;
        let cfg = &self.cfg;
        let repo_dir = &self.cfg.repo;
        let repo = Repository::open(repo_dir).map_err(|e| {
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
        // A resumed rollback goes to the commit its Started record names.
        let resumed_to = resuming.and_then(|r| match &r.entry {
            Entry::Started { to_reason, .. } => {
                to_reason.strip_prefix("commit ").map(str::to_string)
            }
            _ => None,
        });
        let target = if let Some(c) = resumed_to.as_ref().or(self.to.as_ref()) {
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
            let s = self.before.as_deref().unwrap_or_default();
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
        if resuming.is_none() && git::path_id(&head, path) == Some(target_id) {
            // A completed rollback leaves HEAD as the target: running it again changes nothing.
            let by = head
                .message()
                .and_then(|m| m.split("(mlrb ").nth(1))
                .and_then(|r| r.split(')').next())
                .map(|ev| format!("already rolled back by {ev} at {}: ", when(&head)))
                .unwrap_or_default();
            let mut view = serde_json::Map::new();
            view.insert("repo".into(), root.display().to_string().into());
            view.insert("path".into(), shown.clone().into());
            view.insert("to_commit".into(), target.id().to_string().into());
            return Ok(Planned::Nothing {
                outcome: if by.is_empty() {
                    "no_change"
                } else {
                    "already_rolled_back"
                },
                message: format!(
                    "{by}{shown} at HEAD is already as at {} ({}); nothing changed",
                    short(&target),
                    target.summary().unwrap_or("")
                ),
                view,
            });
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
        // A resumed rollback finds its own half-restored files; restoring them again is the
        // same operation.
        if !dirty.is_empty() && resuming.is_none() {
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
        let (whats, target_dvc, put_back_dvc) =
            data_steps(&repo, &root, cfg, &head, &target, path, resuming.is_some())?;
        let mut whats = whats;
        if !self.no_commit {
            whats.push(What::Commit);
        }
        if self.push {
            whats.push(What::Push(git::push(&root)));
        }
        let commit_at = whats.iter().position(|w| matches!(w, What::Commit));
        let steps: Vec<Box<dyn Step>> = whats
            .into_iter()
            .map(|what| {
                Box::new(FeatureStep {
                    what,
                    root: root.clone(),
                    path: path.to_path_buf(),
                    target: target.id(),
                    target_summary: target.summary().unwrap_or("").to_string(),
                    commit_message: format!(
                        "Roll back {shown} to {} (mlrb {{event}})\n\nmlrb rollback features {}: restore {shown} as of {} ({{summary}}).\nReason: {}\nTriggered by: {}\n",
                        short(&target),
                        self.model,
                        target.id(),
                        if _req.reason.is_empty() { "none given" } else { &_req.reason },
                        _req.who
                    ),
                }) as Box<dyn Step>
            })
            .collect();
        let lines: Vec<String> = steps.iter().map(|s| s.line()).collect();
        let mut text = format!(
            "Feature pipeline rollback plan for {} ({}, {shown}): HEAD {} → {} ({}, {})\n",
            self.model,
            root.display(),
            short(&head),
            short(&target),
            when(&target),
            target.summary().unwrap_or("")
        );
        text.push_str(&format!("  commits undone ({}):\n", undone.len()));
        for u in &undone {
            text.push_str(&format!("    {} {} {}\n", u.id, u.time, u.summary));
        }
        text.push_str(&format!("  diff: {diff_stat}\n"));
        for (i, l) in lines.iter().enumerate() {
            text.push_str(&format!("  {:>2}. {l}\n", i + 1));
        }
        text.push_str(&format!(
            "  {:>2}. verify    {shown} matches {}{}\n",
            lines.len() + 1,
            short(&target),
            if cfg.dvc { "; dvc status is clean" } else { "" }
        ));
        let mut view = serde_json::Map::new();
        view.insert("repo".into(), root.display().to_string().into());
        view.insert("path".into(), shown.clone().into());
        view.insert("to_commit".into(), target.id().to_string().into());
        view.insert("undone".into(), serde_json::to_value(&undone)?);
        view.insert("diff_stat".into(), diff_stat.clone().into());
        let head_id = head.id();
        let (vroot, vpath, staged) = (root.clone(), path.to_path_buf(), self.no_commit);
        let (proot, ppath) = (root.clone(), path.to_path_buf());
        Ok(Planned::Plan(Box::new(Plan {
            mode: "git".into(),
            from: Vec::new(),
            to: 0,
            to_reason: format!("commit {}", target.id()),
            summary: (
                "features".into(),
                format!(
                    "The feature pipeline of model `{}` ({shown} in {}) was restored from {} to commit {} ({}), undoing {} commit(s): {}; triggered by {}, due to:",
                    self.model,
                    root.display(),
                    short(&head),
                    short(&target),
                    target.summary().unwrap_or(""),
                    undone.len(),
                    diff_stat,
                    _req.who
                ),
            ),
            text,
            question: format!("Restore {shown} to {}?", short(&target)),
            steps,
            verify_line: format!("verify {shown}"),
            verify: Box::new(move || {
                let repo = Repository::open(&vroot).map_err(|e| e.message().to_string())?;
                verify(&repo, &vroot, &vpath, target_id, staged, &target_dvc)
            }),
            notes: Vec::new(),
            view,
            done_message: format!(
                "restored {shown} to {}{}",
                short(&target),
                if self.no_commit {
                    " (staged, not committed)"
                } else {
                    ""
                }
            ),
            failure_hint: format!("`git -C {} status` shows the work tree", root.display()),
            // A failure after the restore and before the commit puts the path back as at HEAD.
            on_failure: Some(Box::new(move |i| {
                if i == 0 || commit_at.is_some_and(|c| i > c) {
                    return String::new();
                }
                match Repository::open(&proot).and_then(|r| {
                    let head = r.find_commit(head_id)?;
                    Ok(put_back(&r, &head, &ppath, &proot, &put_back_dvc))
                }) {
                    Ok(s) => s,
                    Err(e) => format!("; could NOT put {} back: {}", ppath.display(), e.message()),
                }
            })),
            claim: None,
        })))
    }
}

/// The restore step and the DVC steps after it: every object the target needs must be
/// available before the work tree is touched. Returns the steps, the target's `.dvc` files and
/// the targets to put back with `dvc checkout` after a failure.
#[allow(clippy::type_complexity)]
fn data_steps(
    repo: &Repository,
    root: &Path,
    cfg: &crate::config::FeaturesConfig,
    head: &Commit,
    target: &Commit,
    path: &Path,
    resuming: bool,
) -> Result<(Vec<What>, Vec<(PathBuf, String)>, Vec<String>)> {
    let shown = path.display().to_string();
    // DVC: every object the target needs must be available before the work tree is touched,
    // because `dvc checkout --force` deletes a file whose object is missing.
    let mut steps = vec![What::Restore];
    let target_dvc = if cfg.dvc {
        dvc_files(repo, target, path)
    } else {
        Vec::new()
    };
    let head_dvc = if cfg.dvc {
        dvc_files(repo, head, path)
    } else {
        Vec::new()
    };
    let mut put_back_dvc: Vec<String> = Vec::new();
    if !target_dvc.is_empty() || !head_dvc.is_empty() {
        let probe = dvc::cmd(root, &["version"]);
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
            let out = dvc::cmd(root, &a).run().map_err(|e| {
                CliError::new(ExitStatus::Failure, format!("{e}; nothing was changed"))
            })?;
            let v: serde_json::Value = serde_json::from_str(out.stdout.trim()).unwrap_or_default();
            if !resuming && v.as_object().is_some_and(|o| !o.is_empty()) {
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
            let remote_dir = local_remote(root, cfg.remote.as_deref());
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
            steps.push(What::Run(dvc::cmd(root, &a)));
        }
        if !targets.is_empty() {
            let mut a = vec!["checkout", "--force"];
            a.extend(targets.iter().map(String::as_str));
            steps.push(What::Run(dvc::cmd(root, &a)));
        }
        if head_dvc
            .iter()
            .flat_map(|(_, t)| dvc::outs(t))
            .all(|o| dvc::has_object(&cache, &o.md5))
        {
            put_back_dvc = head_targets;
        }
    }
    Ok((steps, target_dvc, put_back_dvc))
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
