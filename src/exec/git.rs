//! git: reading history and restoring a path with git2; the git CLI only for `--push`.

use std::path::Path;

use git2::{Commit, Oid, Repository, Sort, StatusOptions};

use super::runner::Cmd;

pub const INSTALL: &str = "git (apt-get install git)";

/// The tree entry id of `path` in `commit` (None when the path does not exist there).
pub fn path_id(commit: &Commit, path: &Path) -> Option<Oid> {
    commit.tree().ok()?.get_path(path).ok().map(|e| e.id())
}

/// Whether `commit` changed `path` relative to its first parent (or added it, for a root).
pub fn touches(commit: &Commit, path: &Path) -> bool {
    let mine = path_id(commit, path);
    match commit.parent(0) {
        Ok(p) => path_id(&p, path) != mine,
        Err(_) => mine.is_some(),
    }
}

/// Commits reachable from HEAD but not from `target` that touch `path`, newest first.
pub fn commits_between<'r>(
    repo: &'r Repository,
    target: Oid,
    path: &Path,
) -> Result<Vec<Commit<'r>>, git2::Error> {
    let mut walk = repo.revwalk()?;
    walk.set_sorting(Sort::TOPOLOGICAL | Sort::TIME)?;
    walk.push_head()?;
    walk.hide(target)?;
    let mut out = Vec::new();
    for id in walk {
        let c = repo.find_commit(id?)?;
        if touches(&c, path) {
            out.push(c);
        }
    }
    Ok(out)
}

/// The newest commit reachable from HEAD, committed before `before` (unix seconds), that
/// touches `path`.
pub fn newest_touching_before<'r>(
    repo: &'r Repository,
    path: &Path,
    before: i64,
) -> Result<Option<Commit<'r>>, git2::Error> {
    let mut walk = repo.revwalk()?;
    walk.set_sorting(Sort::TOPOLOGICAL | Sort::TIME)?;
    walk.push_head()?;
    let mut best: Option<Commit> = None;
    for id in walk {
        let c = repo.find_commit(id?)?;
        if c.time().seconds() < before
            && touches(&c, path)
            && best
                .as_ref()
                .is_none_or(|b| c.time().seconds() > b.time().seconds())
        {
            best = Some(c);
        }
    }
    Ok(best)
}

/// Uncommitted changes (staged, unstaged or untracked) under `path`, as "status path" lines.
pub fn dirty(repo: &Repository, path: &Path) -> Result<Vec<String>, git2::Error> {
    let mut opts = StatusOptions::new();
    opts.pathspec(path)
        .include_untracked(true)
        .recurse_untracked_dirs(true)
        .include_ignored(false);
    let st = repo.statuses(Some(&mut opts))?;
    Ok(st
        .iter()
        .map(|e| format!("{:?} {}", e.status(), e.path().unwrap_or("?")))
        .collect())
}

/// Makes `path` in the work tree and index exactly what it is in `commit` (files added since
/// are removed, as `git restore --source` does).
pub fn restore_path(repo: &Repository, commit: &Commit, path: &Path) -> Result<(), git2::Error> {
    let mut co = git2::build::CheckoutBuilder::new();
    co.force()
        .path(path)
        .update_index(true)
        .remove_untracked(false);
    let tree = commit.tree()?;
    // Files under `path` that exist now but not in the target are removed from index and disk.
    let head_tree = repo.head()?.peel_to_tree()?;
    let mut index = repo.index()?;
    if let Ok(entry) = head_tree.get_path(path) {
        let prefix = path.to_path_buf();
        if let Ok(obj) = entry.to_object(repo)
            && let Some(t) = obj.as_tree()
        {
            let mut gone = Vec::new();
            t.walk(git2::TreeWalkMode::PreOrder, |dir, e| {
                if e.kind() == Some(git2::ObjectType::Blob) {
                    let rel = prefix.join(dir).join(e.name().unwrap_or(""));
                    if tree.get_path(&rel).is_err() {
                        gone.push(rel);
                    }
                }
                git2::TreeWalkResult::Ok
            })?;
            let root = repo.workdir().unwrap_or(Path::new("."));
            for g in gone {
                let _ = std::fs::remove_file(root.join(&g));
                index.remove_path(&g)?;
            }
            index.write()?;
        }
    }
    repo.checkout_tree(tree.as_object(), Some(&mut co))
}

/// Commits the index on HEAD; the signature comes from git config, else mlrb's own.
pub fn commit_index(repo: &Repository, message: &str) -> Result<Oid, git2::Error> {
    let mut index = repo.index()?;
    let tree = repo.find_tree(index.write_tree()?)?;
    let sig = repo
        .signature()
        .or_else(|_| git2::Signature::now("mlrb", "mlrb@localhost"))?;
    let parent = repo.head()?.peel_to_commit()?;
    repo.commit(Some("HEAD"), &sig, &sig, message, &tree, &[&parent])
}

/// `git push` with the git CLI, so the user's credential helpers and SSH setup apply.
pub fn push(repo_dir: &Path) -> Cmd {
    Cmd::new("git", INSTALL)
        .arg("-C")
        .arg(repo_dir.as_os_str())
        .arg("push")
        .timeout(std::time::Duration::from_secs(120))
}
