//! GitOps-aware rollbacks on the real kube-apiserver with the Argo CD Application and Flux
//! Kustomization / HelmRelease CRDs (tests/env/crds) and real git repositories (a clone of a
//! bare one as the remote). No controller runs: the tests assert the objects and the commits.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::common::kube::cluster;
use crate::common::{Backend, FileBackend, TestEnv, bad_release};

pub(crate) fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "dev")
        .env("GIT_AUTHOR_EMAIL", "dev@example.com")
        .env("GIT_COMMITTER_NAME", "dev")
        .env("GIT_COMMITTER_EMAIL", "dev@example.com")
        .output()
        .expect("git is required (apt-get install git)");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

const MANIFEST: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: ms\nspec:\n  template:\n    spec:\n      containers:\n      - name: ms\n        image: reg/ms:broken-v3   # bumped by CI\n";
const VALUES: &str = "# recsys serving\nimage:\n  repository: reg/ms\n  tag: \"broken-v3\"\n";

/// Who manages the Deployment in a scenario.
#[derive(Clone, Copy, PartialEq)]
enum By {
    Argo,
    Flux,
}

struct World {
    env: TestEnv,
    ns: String,
    /// Where the Application / Kustomization lives.
    ctl_ns: String,
    /// The GitOps repository (a clone) and its remote (bare).
    repo: PathBuf,
    bare: PathBuf,
}

/// Deployment `ms` rolled out v1, v2, broken-v3 and marked as managed; its Argo CD Application
/// (auto-sync with prune and self-heal) or Flux Kustomization; the GitOps repository holding
/// broken-v3 (a manifest for Argo CD, helm-style values with the tag for Flux), cloned from a
/// bare remote; `gitops` adds the [models.recsys.gitops] section.
fn world(by: By, gitops: bool) -> World {
    let k = cluster();
    let ns = k.namespace("gitops");
    let ctl_ns = k.namespace("gitops-ctl");
    // Marked from its first revision, as a controller that created it leaves it: the
    // deployment controller copies the Deployment's annotations to each ReplicaSet, and an undo
    // copies the target ReplicaSet's back.
    k.deployment(&ns, "ms", &["reg/ms:v1"]);
    match by {
        By::Argo => {
            k.kubectl(&[
                "-n",
                &ns,
                "annotate",
                "deployment/ms",
                &format!("argocd.argoproj.io/tracking-id=recsys:apps/Deployment:{ns}/ms"),
            ]);
            k.apply(
                &ctl_ns,
                "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: recsys\nspec:\n  project: default\n  source:\n    repoURL: https://git.example.com/gitops.git\n    path: apps/recsys\n    targetRevision: main\n  destination:\n    server: https://kubernetes.default.svc\n    namespace: ml\n  syncPolicy:\n    automated:\n      prune: true\n      selfHeal: true\n    syncOptions:\n    - CreateNamespace=true\n",
            );
        }
        By::Flux => {
            k.kubectl(&[
                "-n",
                &ns,
                "label",
                "deployment/ms",
                "kustomize.toolkit.fluxcd.io/name=recsys",
                &format!("kustomize.toolkit.fluxcd.io/namespace={ctl_ns}"),
            ]);
            k.apply(
                &ctl_ns,
                "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: recsys\nspec:\n  interval: 1m\n  path: ./apps/recsys\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: gitops\n",
            );
        }
    }
    k.deploy(&ns, "ms", &["reg/ms:v2", "reg/ms:broken-v3"]);
    let mut env = TestEnv::new();
    cluster().configure(&mut env);
    let bare = env.path().join("gitops.git");
    let repo = env.path().join("gitops");
    git(
        env.path(),
        &["init", "-q", "--bare", "-b", "main", bare.to_str().unwrap()],
    );
    git(
        env.path(),
        &[
            "clone",
            "-q",
            bare.to_str().unwrap(),
            repo.to_str().unwrap(),
        ],
    );
    std::fs::create_dir_all(repo.join("apps/recsys")).unwrap();
    std::fs::write(repo.join("apps/recsys/deployment.yaml"), MANIFEST).unwrap();
    std::fs::write(repo.join("apps/recsys/values.yaml"), VALUES).unwrap();
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "deploy broken-v3"]);
    git(&repo, &["push", "-q", "-u", "origin", "main"]);
    let section = match (gitops, by) {
        (false, _) => String::new(),
        (true, By::Argo) => format!(
            "[models.recsys.gitops]\nkind = \"argocd\"\napplication = \"recsys\"\nnamespace = \"{ctl_ns}\"\nrepo = \"gitops\"\nfile = \"apps/recsys/deployment.yaml\"\nkey = \"spec.template.spec.containers[0].image\"\n"
        ),
        (true, By::Flux) => format!(
            "[models.recsys.gitops]\nkind = \"flux\"\nkustomization = \"recsys\"\nnamespace = \"{ctl_ns}\"\nrepo = \"gitops\"\nfile = \"apps/recsys/values.yaml\"\nkey = \"image.tag\"\nvalue = \"tag\"\n"
        ),
    };
    env.write(
        "mlrb.toml",
        &format!(
            "[models.recsys.infra]\nstrategy = \"kubectl\"\ndeployment = \"ms\"\nnamespace = \"{ns}\"\ntimeout = \"30s\"\n{section}"
        ),
    );
    World {
        env,
        ns,
        ctl_ns,
        repo,
        bare,
    }
}

impl World {
    fn app(&self) -> Value {
        let out = cluster().kubectl(&[
            "-n",
            &self.ctl_ns,
            "get",
            "applications.argoproj.io",
            "recsys",
            "-o",
            "json",
        ]);
        serde_json::from_str(&out).unwrap()
    }

    fn kustomization(&self) -> Value {
        let out = cluster().kubectl(&[
            "-n",
            &self.ctl_ns,
            "get",
            "kustomizations.kustomize.toolkit.fluxcd.io",
            "recsys",
            "-o",
            "json",
        ]);
        serde_json::from_str(&out).unwrap()
    }

    fn image(&self) -> String {
        cluster().image(&self.ns, "ms")
    }

    /// The file at the tip of `main` in the bare remote.
    fn pushed(&self, file: &str) -> String {
        git(&self.bare, &["show", &format!("main:{file}")])
    }

    fn head(&self, file: &str) -> String {
        git(&self.repo, &["show", &format!("HEAD:{file}")])
    }
}

fn mlrb_annotations(obj: &Value) -> Vec<String> {
    obj["metadata"]["annotations"]
        .as_object()
        .map(|a| {
            a.keys()
                .filter(|k| k.starts_with("mlrb.dev/gitops"))
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_managed_deployment_is_refused_without_the_section_and_ignore_gitops_goes_ahead() {
    let w = world(By::Argo, false);
    for args in [
        &["rollback", "infra", "recsys", "--yes"][..],
        &["rollback", "infra", "recsys", "--dry-run"][..],
    ] {
        let line = w.env.run(args).one_clear_error(2);
        assert!(
            line.contains(&format!(
                "deployment/ms in namespace {} is managed by Argo CD Application recsys (annotation argocd.argoproj.io/tracking-id)",
                w.ns
            )),
            "{line}"
        );
        assert!(
            line.contains("add [models.recsys.gitops]") && line.contains("--ignore-gitops"),
            "the two ways out: {line}"
        );
        assert!(line.ends_with("nothing was changed"), "{line}");
    }
    assert_eq!(w.image(), "reg/ms:broken-v3");
    assert_eq!(w.env.journal(), "");

    let out = w.env.run(&[
        "rollback",
        "infra",
        "recsys",
        "--yes",
        "--ignore-gitops",
        "-o",
        "json",
    ]);
    out.code(0);
    assert!(
        out.stderr
            .contains("--ignore-gitops was given, so its next sync will revert this rollback"),
        "{}",
        out.stderr
    );
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["gitops"]["ignored"], json!(true), "{v}");
    assert_eq!(v["gitops"]["managed_by"][0]["name"], json!("recsys"), "{v}");
    assert_eq!(w.image(), "reg/ms:v2");
    // Nothing was done to the Application or the repository.
    assert!(w.app()["spec"]["syncPolicy"]["automated"]["selfHeal"] == json!(true));
    assert_eq!(w.head("apps/recsys/deployment.yaml"), MANIFEST.trim_end());
}

#[test]
fn a_section_naming_another_controller_is_refused() {
    let w = world(By::Flux, false);
    let mut cfg = std::fs::read_to_string(w.env.path().join("mlrb.toml")).unwrap();
    cfg.push_str(&format!(
        "[models.recsys.gitops]\nkind = \"argocd\"\napplication = \"recsys\"\nnamespace = \"{}\"\nrepo = \"gitops\"\nfile = \"apps/recsys/values.yaml\"\nkey = \"image.tag\"\n",
        w.ctl_ns
    ));
    w.env.write("mlrb.toml", &cfg);
    let line = w
        .env
        .run(&["rollback", "infra", "recsys", "--yes"])
        .one_clear_error(2);
    assert!(
        line.contains(&format!(
            "is managed by Flux Kustomization recsys (namespace {}), but [models.recsys.gitops] names Argo CD Application recsys",
            w.ctl_ns
        )),
        "{line}"
    );
    assert_eq!(w.image(), "reg/ms:broken-v3");
}

#[test]
fn argocd_auto_sync_is_suspended_the_revert_committed_and_pushed_and_auto_sync_restored() {
    let w = world(By::Argo, true);
    let before = git(&w.repo, &["rev-parse", "HEAD"]);
    let out = w.env.run(&[
        "rollback",
        "infra",
        "recsys",
        "--yes",
        "--push",
        "--reason",
        "p99 after deploy",
        "-o",
        "json",
    ]);
    out.code(0);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    let event = v["event_id"].as_str().unwrap().to_string();
    let plan: Vec<&str> = v["plan"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["line"].as_str().unwrap())
        .collect();
    assert!(
        plan[0].starts_with(
            "suspend sync: remove spec.syncPolicy.automated of Argo CD Application recsys"
        ),
        "{plan:?}"
    );
    assert!(plan[1].contains("rollout undo deployment/ms"), "{plan:?}");
    assert!(
        plan[4].starts_with(
            "git2      commit apps/recsys/deployment.yaml `spec.template.spec.containers[0].image`"
        ),
        "{plan:?}"
    );
    assert!(plan[5].ends_with("push"), "{plan:?}");
    assert!(plan[6].starts_with("resume sync"), "{plan:?}");
    assert_eq!(w.image(), "reg/ms:v2");

    // The Application: auto-sync back as it was, mlrb's record gone.
    let app = w.app();
    assert_eq!(
        app["spec"]["syncPolicy"]["automated"],
        json!({"prune": true, "selfHeal": true}),
        "{app}"
    );
    assert_eq!(
        app["spec"]["syncPolicy"]["syncOptions"],
        json!(["CreateNamespace=true"])
    );
    assert!(mlrb_annotations(&app).is_empty(), "{app}");

    // Git: one commit on the old HEAD, changing one line, naming the event, pushed.
    let want = MANIFEST.replace("reg/ms:broken-v3   #", "reg/ms:v2   #");
    assert_eq!(w.head("apps/recsys/deployment.yaml"), want.trim_end());
    assert_eq!(w.pushed("apps/recsys/deployment.yaml"), want.trim_end());
    assert_eq!(git(&w.repo, &["rev-parse", "HEAD~1"]), before);
    assert_eq!(
        git(&w.repo, &["diff", "--stat", "HEAD~1", "HEAD"])
            .lines()
            .count(),
        2,
        "one file changed"
    );
    let msg = git(&w.repo, &["log", "-1", "--format=%B"]);
    assert!(
        msg.starts_with(&format!(
            "Roll back recsys: spec.template.spec.containers[0].image reg/ms:broken-v3 → reg/ms:v2 (mlrb {event})"
        )),
        "{msg}"
    );
    assert!(msg.contains("Reason: p99 after deploy"), "{msg}");
    assert_eq!(git(&w.repo, &["status", "--porcelain"]), "");

    // The journal records every step, done.
    let journal = w.env.journal();
    let finished: Vec<Value> = journal
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["event"] == event.as_str() && r["type"] == "step_finished")
        .collect();
    assert_eq!(
        finished.len(),
        8,
        "seven steps and the verification: {journal}"
    );
    assert!(finished.iter().all(|r| r["ok"] == json!(true)), "{journal}");
    assert!(
        finished[0]["detail"]
            .as_str()
            .unwrap()
            .contains("auto-sync of Argo CD Application recsys"),
        "{journal}"
    );
    assert!(
        finished[6]["detail"]
            .as_str()
            .unwrap()
            .contains("git matches what runs (reg/ms:v2)"),
        "{journal}"
    );

    // The report names the steps.
    let report = w.env.run(&["report", &event]);
    report.code(0);
    assert!(
        report
            .stdout
            .contains("Step 1/8 done: auto-sync of Argo CD Application recsys"),
        "{}",
        report.stdout
    );
    assert!(
        report
            .stdout
            .contains("Step 7/8 done: git matches what runs"),
        "{}",
        report.stdout
    );
}

#[test]
fn flux_reconciliation_is_suspended_and_resumed_with_the_tag_committed_in_the_values() {
    let w = world(By::Flux, true);
    // No --push: this repository's branch has an upstream the controller reads, so sync stays
    // suspended (said in the plan); then the same with a repository without upstream.
    let out = w.env.run(&["rollback", "infra", "recsys", "--yes"]);
    out.code(0);
    assert!(
        out.stdout
            .contains("stays suspended after the rollback (the commit is not pushed"),
        "{}",
        out.stdout
    );
    assert_eq!(w.image(), "reg/ms:v2");
    let ks = w.kustomization();
    assert_eq!(ks["spec"]["suspend"], json!(true), "{ks}");
    assert_eq!(
        w.head("apps/recsys/values.yaml"),
        VALUES.replace("\"broken-v3\"", "\"v2\"").trim_end()
    );
    assert_eq!(
        w.pushed("apps/recsys/values.yaml"),
        VALUES.trim_end(),
        "not pushed"
    );

    // A repository the controller reads itself (no upstream): reconciliation resumes.
    let w = world(By::Flux, true);
    git(&w.repo, &["branch", "--unset-upstream"]);
    let out = w.env.run(&["rollback", "infra", "recsys", "--yes"]);
    out.code(0);
    let ks = w.kustomization();
    assert_eq!(ks["spec"]["suspend"], json!(false), "{ks}");
    assert!(mlrb_annotations(&ks).is_empty(), "{ks}");
    assert_eq!(
        w.head("apps/recsys/values.yaml"),
        VALUES.replace("\"broken-v3\"", "\"v2\"").trim_end()
    );
    assert!(
        out.stderr
            .contains("git matches what runs (v2); Flux Kustomization recsys"),
        "{}",
        out.stderr
    );
}

#[test]
fn dry_run_shows_the_gitops_steps_and_changes_nothing() {
    let w = world(By::Argo, true);
    let out = w
        .env
        .run(&["rollback", "infra", "recsys", "--dry-run", "--push"]);
    out.code(0);
    for want in [
        &format!(
            "managed: deployment/ms in namespace {} is managed by Argo CD Application recsys",
            w.ns
        )[..],
        "gitops: apps/recsys/deployment.yaml `spec.template.spec.containers[0].image` is reg/ms:broken-v3 at HEAD",
        "   1. suspend sync: remove spec.syncPolicy.automated",
        "   2. run       kubectl",
        "   5. git2      commit apps/recsys/deployment.yaml",
        "   6. run       git -C",
        "   7. resume sync",
        "   8. verify    re-read deployment/ms",
    ] {
        assert!(out.stdout.contains(want), "{want}:\n{}", out.stdout);
    }
    assert_eq!(w.image(), "reg/ms:broken-v3");
    assert!(w.app()["spec"]["syncPolicy"]["automated"].is_object());
    assert!(mlrb_annotations(&w.app()).is_empty());
    assert_eq!(w.head("apps/recsys/deployment.yaml"), MANIFEST.trim_end());
    assert_eq!(w.env.journal(), "");

    // Someone is editing the file in the clone: refused before anything changes.
    std::fs::write(
        w.repo.join("apps/recsys/deployment.yaml"),
        MANIFEST.replace("broken-v3", "v4"),
    )
    .unwrap();
    let line = w
        .env
        .run(&["rollback", "infra", "recsys", "--yes", "--push"])
        .one_clear_error(3);
    assert!(
        line.contains(
            "apps/recsys/deployment.yaml has uncommitted changes in the GitOps repository"
        ),
        "{line}"
    );
    assert_eq!(w.image(), "reg/ms:broken-v3");
    assert!(mlrb_annotations(&w.app()).is_empty());
    assert_eq!(w.env.journal(), "");
}

/// Killed after suspending sync, or after the commit: the Application stays suspended (status
/// says so), a plain re-run refuses, and --resume finishes the same event without committing
/// twice.
#[test]
fn a_rollback_killed_between_gitops_steps_is_finished_by_resume() {
    for at in ["finished:1", "finished:5"] {
        let mut w = world(By::Argo, true);
        let b = FileBackend::new(&w.env);
        b.seed("recsys", &bad_release(), &[]);
        b.configure(&mut w.env);
        w.env.set("MLRB_TEST_CRASH_AT", at);
        let out = w
            .env
            .run(&["rollback", "infra", "recsys", "--yes", "--push"]);
        assert_ne!(out.code, 0, "{at}: the process was killed");
        w.env.vars.remove("MLRB_TEST_CRASH_AT");
        let app = w.app();
        assert!(
            app["spec"]["syncPolicy"]["automated"].is_null(),
            "{at}: {app}"
        );
        let status = w.env.run(&["status", "recsys"]);
        status.code(0);
        assert!(
            status.stdout.contains(&format!(
                "GITOPS SYNC SUSPENDED: auto-sync of Argo CD Application recsys (namespace {}) is suspended by mlrb since",
                w.ctl_ns
            )),
            "{at}: {}",
            status.stdout
        );
        assert!(
            status.stdout.contains("did not finish"),
            "{at}: {}",
            status.stdout
        );
        w.env
            .run(&["rollback", "infra", "recsys", "--yes", "--push"])
            .one_clear_error(2);
        let commits = git(&w.repo, &["rev-list", "--count", "HEAD"]);
        let out = w.env.run(&[
            "rollback", "infra", "recsys", "--resume", "--yes", "--push", "-o", "json",
        ]);
        out.code(0);
        let v: Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(v["outcome"], json!("rolled_back"), "{at}: {v}");
        assert_eq!(w.image(), "reg/ms:v2", "{at}");
        let app = w.app();
        assert_eq!(
            app["spec"]["syncPolicy"]["automated"],
            json!({"prune": true, "selfHeal": true}),
            "{at}: {app}"
        );
        assert!(mlrb_annotations(&app).is_empty(), "{at}: {app}");
        let after = git(&w.repo, &["rev-list", "--count", "HEAD"]);
        let want_commits = if at == "finished:5" { 0 } else { 1 };
        assert_eq!(
            after.parse::<u32>().unwrap() - commits.parse::<u32>().unwrap(),
            want_commits,
            "{at}: one revert commit in all"
        );
        assert!(
            w.pushed("apps/recsys/deployment.yaml")
                .contains("image: reg/ms:v2"),
            "{at}"
        );
        assert!(
            out.stderr.contains("already done, not run again"),
            "{at}: {}",
            out.stderr
        );
        let status = w.env.run(&["status", "recsys"]);
        assert!(
            !status.stdout.contains("GITOPS SYNC SUSPENDED"),
            "{at}: {}",
            status.stdout
        );
    }
}

/// --keep-suspended leaves auto-sync off; `status` shows it with the command that resumes it,
/// and once that command ran, no longer.
#[test]
fn keep_suspended_is_shown_by_status_until_resumed() {
    let mut w = world(By::Argo, true);
    let b = FileBackend::new(&w.env);
    b.seed("recsys", &bad_release(), &[]);
    b.configure(&mut w.env);
    let out = w.env.run(&[
        "rollback",
        "infra",
        "recsys",
        "--yes",
        "--push",
        "--keep-suspended",
    ]);
    out.code(0);
    assert!(
        out.stdout
            .contains("stays suspended after the rollback (--keep-suspended)"),
        "{}",
        out.stdout
    );
    assert!(w.app()["spec"]["syncPolicy"]["automated"].is_null());
    assert!(
        w.pushed("apps/recsys/deployment.yaml")
            .contains("image: reg/ms:v2")
    );

    let status = w.env.run(&["status", "recsys", "-o", "json"]);
    status.code(0);
    let v: Value = serde_json::from_str(&status.stdout).unwrap();
    let sv = &v["gitops"]["suspended"];
    assert!(
        sv["event"]
            .as_str()
            .is_some_and(|e| e.starts_with("rollback-")),
        "{v}"
    );
    assert!(
        v["gitops"]["managed"][0]
            .as_str()
            .unwrap()
            .contains("is managed by Argo CD Application recsys"),
        "{v}"
    );
    let cmd = sv["resume_command"].as_str().unwrap();
    assert!(cmd.starts_with("kubectl --namespace="), "{cmd}");
    let text = w.env.run(&["status", "recsys"]);
    assert!(
        text.stdout.contains("GITOPS SYNC SUSPENDED"),
        "{}",
        text.stdout
    );

    // The printed command resumes it, as recorded.
    let out = Command::new("sh")
        .args(["-c", cmd])
        .env("KUBECONFIG", &cluster().kubeconfig)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{cmd}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let app = w.app();
    assert_eq!(
        app["spec"]["syncPolicy"]["automated"],
        json!({"prune": true, "selfHeal": true}),
        "{app}"
    );
    assert!(mlrb_annotations(&app).is_empty(), "{app}");
    let text = w.env.run(&["status", "recsys"]);
    assert!(
        !text.stdout.contains("GITOPS SYNC SUSPENDED"),
        "{}",
        text.stdout
    );
}

/// A model (v3 live, v2 the target) served through kubectl-set-env by Deployment `ms`, which a
/// Flux HelmRelease manages; the GitOps repository (no remote) holds `model.version` 3.
pub(crate) struct ModelWorld {
    pub(crate) env: TestEnv,
    pub(crate) b: FileBackend,
    ns: String,
    ctl_ns: String,
    pub(crate) repo: PathBuf,
    pub(crate) serving: String,
    pub(crate) values: &'static str,
}

/// `recsys` v3 bad, v2 good, served by kubectl-set-env on a Deployment a Flux HelmRelease
/// manages, with the GitOps repository holding `model.version: "3"`.
pub(crate) fn model_world() -> ModelWorld {
    let k = cluster();
    let ns = k.namespace("gitops-model");
    let ctl_ns = k.namespace("gitops-flux");
    k.deployment(&ns, "ms", &["reg/ms:v1"]);
    k.kubectl(&["-n", &ns, "set", "env", "deployment/ms", "MODEL_VERSION=3"]);
    k.kubectl(&[
        "-n",
        &ns,
        "label",
        "deployment/ms",
        "helm.toolkit.fluxcd.io/name=recsys",
        &format!("helm.toolkit.fluxcd.io/namespace={ctl_ns}"),
    ]);
    k.apply(
        &ctl_ns,
        "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: recsys\nspec:\n  interval: 5m\n  chart:\n    spec:\n      chart: model-server\n  values:\n    model:\n      version: \"3\"\n",
    );
    let mut env = TestEnv::new();
    cluster().configure(&mut env);
    let b = FileBackend::new(&env);
    b.configure(&mut env);
    b.seed("recsys", &bad_release(), &[]);
    let repo = env.path().join("gitops");
    std::fs::create_dir_all(repo.join("releases")).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    let values = "model:\n  version: \"3\"   # set by the release pipeline\n";
    std::fs::write(repo.join("releases/recsys.yaml"), values).unwrap();
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "release v3"]);
    let serving = format!(
        "[models.recsys.serving]\nkind = \"kubectl-set-env\"\ndeployment = \"ms\"\nnamespace = \"{ns}\"\nenv_var = \"MODEL_VERSION\"\ntimeout = \"30s\"\n"
    );
    env.write("mlrb.toml", &serving);
    ModelWorld {
        env,
        b,
        ns,
        ctl_ns,
        repo,
        serving,
        values,
    }
}

impl ModelWorld {
    /// The `[models.recsys.gitops]` section for the HelmRelease, after `extra` config.
    pub(crate) fn gitops_section(&self) -> String {
        format!(
            "[models.recsys.gitops]\nkind = \"flux\"\nhelm_release = \"recsys\"\nnamespace = \"{}\"\nrepo = \"gitops\"\nfile = \"releases/recsys.yaml\"\nkey = \"model.version\"\n",
            self.ctl_ns
        )
    }

    fn configure_gitops(&self) {
        self.env.write(
            "mlrb.toml",
            &format!(
                "{}[models.recsys.gitops]\nkind = \"flux\"\nhelm_release = \"recsys\"\nnamespace = \"{}\"\nrepo = \"gitops\"\nfile = \"releases/recsys.yaml\"\nkey = \"model.version\"\n",
                self.serving, self.ctl_ns
            ),
        );
    }

    pub(crate) fn helmrelease(&self) -> Value {
        serde_json::from_str(&cluster().kubectl(&[
            "-n",
            &self.ctl_ns,
            "get",
            "helmreleases.helm.toolkit.fluxcd.io",
            "recsys",
            "-o",
            "json",
        ]))
        .unwrap()
    }
}

/// A model rollback whose serving (kubectl-set-env) changes a Deployment a Flux HelmRelease
/// manages: refused without the section, registry untouched; with it, the HelmRelease is
/// suspended, the version set, `model.version` committed in the values, and it is resumed.
#[test]
fn a_model_rollback_on_a_helmrelease_managed_deployment_commits_the_version() {
    let w = model_world();
    let k = cluster();
    let ModelWorld {
        env,
        b,
        ns,
        ctl_ns,
        repo,
        values,
        ..
    } = &w;
    let (env, b, ns, ctl_ns, repo, values) = (env, b, ns.as_str(), ctl_ns.as_str(), repo, *values);
    let before = b.snapshot("recsys");
    let line = env
        .run(&["rollback", "model", "recsys", "--yes"])
        .one_clear_error(2);
    assert!(
        line.contains(&format!(
            "deployment/ms in namespace {ns} is managed by Flux HelmRelease recsys (namespace {ctl_ns}) (label helm.toolkit.fluxcd.io/name)"
        )),
        "{line}"
    );
    assert_eq!(b.snapshot("recsys"), before, "the registry is untouched");
    let status = env.run(&["status", "recsys"]);
    assert!(
        status.stdout.contains(&format!(
            "managed: deployment/ms in namespace {ns} is managed by Flux HelmRelease recsys (namespace {ctl_ns})"
        )) && status.stdout.contains("a rollback of it is refused until [models.recsys.gitops] is configured"),
        "{}",
        status.stdout
    );

    w.configure_gitops();
    let out = env.run(&["rollback", "model", "recsys", "--yes", "-o", "json"]);
    out.code(0);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    let event = v["event_id"].as_str().unwrap();
    assert_eq!(b.version("recsys", 2).0, mlrb::registry::Stage::Production);
    let envs = k.kubectl(&[
        "-n",
        ns,
        "get",
        "deployment",
        "ms",
        "-o",
        "jsonpath={.spec.template.spec.containers[0].env[0].value}",
    ]);
    assert_eq!(envs, "2");
    assert_eq!(
        git(repo, &["show", "HEAD:releases/recsys.yaml"]),
        values.replace("\"3\"", "\"2\"").trim_end()
    );
    let msg = git(repo, &["log", "-1", "--format=%s"]);
    assert_eq!(
        msg,
        format!("Roll back recsys: model.version 3 → 2 (mlrb {event})")
    );
    let hr = w.helmrelease();
    assert_eq!(hr["spec"]["suspend"], json!(false), "{hr}");
    assert!(mlrb_annotations(&hr).is_empty(), "{hr}");
}

/// Helm charts set `app.kubernetes.io/instance` too: that label alone is Argo CD's mark only
/// when an Application of that name exists.
#[test]
fn an_instance_label_alone_counts_only_with_its_application() {
    let k = cluster();
    let ns = k.namespace("gitops-label");
    k.deployment(&ns, "ms", &["reg/ms:v1"]);
    let name = format!("chart-{ns}");
    k.kubectl(&[
        "-n",
        &ns,
        "label",
        "deployment/ms",
        &format!("app.kubernetes.io/instance={name}"),
    ]);
    k.deploy(&ns, "ms", &["reg/ms:v2"]);
    let mut env = TestEnv::new();
    cluster().configure(&mut env);
    env.write(
        "mlrb.toml",
        &format!(
            "[models.recsys.infra]\nstrategy = \"kubectl\"\ndeployment = \"ms\"\nnamespace = \"{ns}\"\ntimeout = \"30s\"\n"
        ),
    );
    let out = env.run(&["rollback", "infra", "recsys", "--dry-run"]);
    out.code(0);
    assert!(!out.stdout.contains("managed"), "{}", out.stdout);

    let argocd = k.namespace("gitops-apps");
    k.apply(
        &argocd,
        &format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: {name}\nspec:\n  project: default\n  source:\n    repoURL: https://git.example.com/gitops.git\n  destination:\n    server: https://kubernetes.default.svc\n"
        ),
    );
    let line = env
        .run(&["rollback", "infra", "recsys", "--dry-run"])
        .one_clear_error(2);
    assert!(
        line.contains(&format!(
            "is managed by Argo CD Application {name} (namespace {argocd}) (label app.kubernetes.io/instance)"
        )),
        "{line}"
    );
}

/// A push the remote refuses (someone pushed since): the step fails, the rollback and the commit
/// stay, sync stays suspended and says so; after `git pull --rebase`, --resume pushes and resumes.
#[test]
fn a_refused_push_keeps_sync_suspended_until_resume_pushes() {
    let w = world(By::Argo, true);
    let other = w.env.path().join("other");
    git(
        w.env.path(),
        &[
            "clone",
            "-q",
            w.bare.to_str().unwrap(),
            other.to_str().unwrap(),
        ],
    );
    std::fs::write(other.join("README.md"), "apps\n").unwrap();
    git(&other, &["add", "-A"]);
    git(&other, &["commit", "-q", "-m", "docs"]);
    git(&other, &["push", "-q"]);

    let out = w
        .env
        .run(&["rollback", "infra", "recsys", "--yes", "--push"]);
    out.code(1);
    assert!(
        out.stderr.contains("step 6/8 failed")
            && out
                .stderr
                .contains("the commit is in place locally; sync stays suspended"),
        "{}",
        out.stderr
    );
    assert_eq!(w.image(), "reg/ms:v2");
    assert!(
        w.head("apps/recsys/deployment.yaml")
            .contains("image: reg/ms:v2")
    );
    assert!(
        w.pushed("apps/recsys/deployment.yaml")
            .contains("broken-v3")
    );
    let app = w.app();
    assert!(app["spec"]["syncPolicy"]["automated"].is_null(), "{app}");

    git(&w.repo, &["pull", "-q", "--rebase"]);
    let out = w
        .env
        .run(&["rollback", "infra", "recsys", "--resume", "--yes", "--push"]);
    out.code(0);
    assert!(
        w.pushed("apps/recsys/deployment.yaml")
            .contains("image: reg/ms:v2")
    );
    assert_eq!(w.pushed("README.md"), "apps");
    let app = w.app();
    assert_eq!(
        app["spec"]["syncPolicy"]["automated"],
        json!({"prune": true, "selfHeal": true}),
        "{app}"
    );
    assert!(mlrb_annotations(&app).is_empty(), "{app}");
}

/// A model rollback killed after the HelmRelease was suspended, and one killed after the
/// registry and serving steps, are finished by --resume: the version committed once, the
/// HelmRelease resumed.
#[test]
fn a_model_rollback_killed_between_gitops_steps_is_finished_by_resume() {
    for at in ["finished:1", "started:5"] {
        let mut w = model_world();
        w.configure_gitops();
        w.env.set("MLRB_TEST_CRASH_AT", at);
        let out = w.env.run(&["rollback", "model", "recsys", "--yes"]);
        assert_ne!(out.code, 0, "{at}: the process was killed");
        w.env.vars.remove("MLRB_TEST_CRASH_AT");
        assert_eq!(w.helmrelease()["spec"]["suspend"], json!(true), "{at}");
        let out = w
            .env
            .run(&["rollback", "model", "recsys", "--resume", "--yes"]);
        out.code(0);
        assert_eq!(
            w.b.version("recsys", 2).0,
            mlrb::registry::Stage::Production,
            "{at}"
        );
        assert_eq!(
            git(&w.repo, &["show", "HEAD:releases/recsys.yaml"]),
            w.values.replace("\"3\"", "\"2\"").trim_end(),
            "{at}"
        );
        assert_eq!(git(&w.repo, &["rev-list", "--count", "HEAD"]), "2", "{at}");
        let hr = w.helmrelease();
        assert_eq!(hr["spec"]["suspend"], json!(false), "{at}: {hr}");
        assert!(mlrb_annotations(&hr).is_empty(), "{at}: {hr}");
    }
}
