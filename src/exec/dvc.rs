//! DVC: which data objects a `.dvc` file needs, whether the cache holds them, and the dvc CLI.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::runner::Cmd;

pub const INSTALL: &str = "dvc (python3 -m pip install 'dvc==3.67.1', or tests/env/setup.sh dvc)";

/// One output of a `.dvc` file: its md5 and path.
#[derive(Debug, Clone, PartialEq)]
pub struct Out {
    pub md5: String,
    pub path: String,
}

/// The outs of a `.dvc` file's text (the simple YAML dvc writes: `- md5: …` / `  path: …`).
pub fn outs(text: &str) -> Vec<Out> {
    let mut out = Vec::new();
    let mut md5 = None;
    let mut path = None;
    let mut in_outs = false;
    for line in text.lines() {
        if !line.starts_with(' ') && !line.starts_with('-') {
            in_outs = line.trim_end() == "outs:";
            continue;
        }
        if !in_outs {
            continue;
        }
        let l = line.trim_start_matches(['-', ' ']);
        if line.trim_start().starts_with('-') {
            if let (Some(m), Some(p)) = (md5.take(), path.take()) {
                out.push(Out { md5: m, path: p });
            }
            md5 = None;
            path = None;
        }
        if let Some(v) = l.strip_prefix("md5:") {
            md5 = Some(v.trim().to_string());
        } else if let Some(v) = l.strip_prefix("path:") {
            path = Some(v.trim().to_string());
        }
    }
    if let (Some(m), Some(p)) = (md5, path) {
        out.push(Out { md5: m, path: p });
    }
    out
}

/// Where an object lives in a cache or local remote (DVC 3 `files/md5/` layout, then 2.x).
pub fn object_paths(root: &Path, md5: &str) -> Vec<PathBuf> {
    if md5.len() < 3 {
        return Vec::new();
    }
    let (a, b) = md5.split_at(2);
    vec![root.join("files/md5").join(a).join(b), root.join(a).join(b)]
}

pub fn has_object(root: &Path, md5: &str) -> bool {
    object_paths(root, md5).iter().any(|p| p.exists())
}

pub fn cmd(repo: &Path, args: &[&str]) -> Cmd {
    Cmd::new("dvc", INSTALL)
        .args(args.iter().copied())
        .cwd(repo)
        .env("DVC_NO_ANALYTICS", "1")
        .timeout(Duration::from_secs(600))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_outs() {
        let t = "outs:\n- md5: 0123456789abcdef\n  size: 12\n  hash: md5\n  path: features.csv\n";
        assert_eq!(
            outs(t),
            [Out {
                md5: "0123456789abcdef".into(),
                path: "features.csv".into()
            }]
        );
    }
}
