//! `helm` 3: release history and rollback, with namespace and context applied.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::runner::{Cmd, ExecError};

pub const INSTALL: &str = "helm 3 (https://helm.sh/docs/intro/install/)";

#[derive(Debug, Clone, Default)]
pub struct Helm {
    pub context: Option<String>,
    pub namespace: Option<String>,
}

/// One entry of `helm history R -o json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Release {
    pub revision: u64,
    #[serde(default)]
    pub updated: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub chart: String,
    #[serde(default)]
    pub app_version: String,
    #[serde(default)]
    pub description: String,
}

impl Helm {
    pub fn cmd<I: IntoIterator<Item = S>, S: Into<String>>(&self, args: I) -> Cmd {
        let mut c = Cmd::new("helm", INSTALL).args(args.into_iter().map(Into::<String>::into));
        if let Some(ns) = &self.namespace {
            c = c.args(["--namespace", ns]);
        }
        if let Some(ctx) = &self.context {
            c = c.args(["--kube-context", ctx]);
        }
        c
    }

    pub fn history(&self, release: &str) -> Result<Vec<Release>, ExecError> {
        let cmd = self
            .cmd(["history", release, "-o", "json"])
            .timeout(Duration::from_secs(60));
        let out = cmd.run()?;
        let mut v: Vec<Release> =
            serde_json::from_str(&out.stdout).map_err(|e| ExecError::Spawn {
                cmdline: cmd.line(),
                detail: format!("its output is not helm's history JSON: {e}"),
            })?;
        v.sort_by_key(|r| std::cmp::Reverse(r.revision));
        Ok(v)
    }

    pub fn rollback(&self, release: &str, revision: Option<u64>, timeout: Duration) -> Cmd {
        let mut args = vec!["rollback".to_string(), release.to_string()];
        if let Some(r) = revision {
            args.push(r.to_string());
        }
        args.push("--wait".into());
        args.push("--timeout".into());
        args.push(format!("{}s", timeout.as_secs().max(1)));
        self.cmd(args).timeout(timeout + Duration::from_secs(30))
    }

    pub fn upgrade_set(
        &self,
        release: &str,
        chart: &str,
        key: &str,
        value: &str,
        timeout: Duration,
    ) -> Cmd {
        self.cmd([
            "upgrade".to_string(),
            release.into(),
            chart.into(),
            "--reuse-values".into(),
            "--set".into(),
            format!("{key}={value}"),
            "--wait".into(),
            "--timeout".into(),
            format!("{}s", timeout.as_secs().max(1)),
        ])
        .timeout(timeout + Duration::from_secs(30))
    }
}

/// helm's stderr as one line plus what to do next.
pub fn explain(e: &ExecError) -> (String, Option<String>) {
    let err = e.stderr();
    let msg = e.to_string();
    let hint = if err.contains("release: not found") {
        Some("check [models.*.infra].release and namespace (`helm list -n NAMESPACE`)".to_string())
    } else if err.contains("has no") && err.contains("version") {
        Some("`mlrb rollback infra MODEL --history` lists the release's revisions".into())
    } else if matches!(e, ExecError::Timeout { .. }) || err.contains("timed out") {
        Some("the release's resources did not become ready; `helm status RELEASE` and `kubectl get pods` show why".into())
    } else {
        None
    };
    (msg, hint)
}
