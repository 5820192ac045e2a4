//! GitOps-aware rollbacks: an object that Argo CD or Flux manages is put back by the
//! controller's next sync, so a rollback of it is refused unless `[models.X.gitops]` says how to
//! make it stick (or `--ignore-gitops` accepts that it will not). With the section, any kind's
//! plan is wrapped: suspend the controller's sync, the rollback itself, commit the revert in the
//! GitOps repository, then resume sync once git matches what runs (or keep it suspended).

pub mod yaml;

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};

use crate::clock;
use crate::config::{
    GitopsConfig, GitopsKind, GitopsValue, InfraStrategy, ModelConfig, ServingKind,
};
use crate::context::Ctx;
use crate::error::{CliError, ExitStatus};
use crate::exec::kubectl::{self, Kubectl};
use crate::journal::{Entry, Record};
use crate::rollback::{Ending, Kind, Plan, Planned, Request, Step, StepFailure, Subject};

type Result<T> = anyhow::Result<T>;

/// On the controller's object while mlrb holds its sync suspended: the event, when, and what
/// the sync setting was (Argo CD: `spec.syncPolicy.automated` as JSON, or `off`; Flux: the
/// `spec.suspend` it had).
pub const SUSPENDED_BY: &str = "mlrb.dev/gitops-suspended-by";
pub const SUSPENDED_AT: &str = "mlrb.dev/gitops-suspended-at";
pub const SUSPENDED_WAS: &str = "mlrb.dev/gitops-suspended-was";

/// Argo CD's tracking label and annotation, and Flux's ownership labels.
const ARGO_LABEL: &str = "app.kubernetes.io/instance";
const ARGO_ANNOTATION: &str = "argocd.argoproj.io/tracking-id";
const FLUX_KS_NAME: &str = "kustomize.toolkit.fluxcd.io/name";
const FLUX_KS_NAMESPACE: &str = "kustomize.toolkit.fluxcd.io/namespace";
const FLUX_HR_NAME: &str = "helm.toolkit.fluxcd.io/name";
const FLUX_HR_NAMESPACE: &str = "helm.toolkit.fluxcd.io/namespace";

const ARGO_APPS: &str = "applications.argoproj.io";

/// Reads of the cluster that only inform (status, detection of the owner by label).
const SHORT: Duration = Duration::from_secs(5);

/// Which rollback is wrapped: what it touches and what git must hold afterwards differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    Infra,
    Model,
}

/// `--ignore-gitops`, `--keep-suspended`, `--push`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Flags {
    pub ignore: bool,
    pub keep_suspended: bool,
    pub push: bool,
}

/// The controller that manages an object, as the object's own marks name it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Manager {
    pub kind: &'static str,
    /// "Argo CD Application", "Flux Kustomization", "Flux HelmRelease".
    pub what: &'static str,
    pub name: String,
    /// Where the controller's object lives, when the marks say.
    pub namespace: Option<String>,
    /// The label or annotation that says so.
    pub by: String,
}

impl Manager {
    fn shown(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{} {} (namespace {ns})", self.what, self.name),
            None => format!("{} {}", self.what, self.name),
        }
    }
}

/// The managers named by an object's labels and annotations. An Argo CD instance label alone
/// is also what Helm charts set, so it counts only when an Application of that name exists.
pub fn managers_of(k: &Kubectl, obj: &Value) -> Vec<Manager> {
    let label = |key: &str| {
        obj.pointer("/metadata/labels")
            .and_then(|l| l.get(key))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let annotation = obj
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(ARGO_ANNOTATION))
        .and_then(Value::as_str);
    let mut out = Vec::new();
    if let Some(id) = annotation {
        // `APP:GROUP/KIND:NAMESPACE/NAME`, APP being `NAMESPACE_NAME` for an Application
        // outside Argo CD's own namespace.
        let app = id.split(':').next().unwrap_or("");
        let (namespace, name) = match app.split_once('_') {
            Some((ns, n)) => (Some(ns.to_string()), n.to_string()),
            None => (None, app.to_string()),
        };
        if !name.is_empty() {
            out.push(Manager {
                kind: "argocd",
                what: "Argo CD Application",
                name,
                namespace,
                by: format!("annotation {ARGO_ANNOTATION}"),
            });
        }
    } else if let Some(app) = label(ARGO_LABEL)
        && let Some(ns) = argo_application_namespace(k, &app)
    {
        out.push(Manager {
            kind: "argocd",
            what: "Argo CD Application",
            name: app,
            namespace: Some(ns),
            by: format!("label {ARGO_LABEL}"),
        });
    }
    for (name, ns, what) in [
        (FLUX_KS_NAME, FLUX_KS_NAMESPACE, "Flux Kustomization"),
        (FLUX_HR_NAME, FLUX_HR_NAMESPACE, "Flux HelmRelease"),
    ] {
        if let Some(n) = label(name) {
            out.push(Manager {
                kind: "flux",
                what,
                name: n,
                namespace: label(ns),
                by: format!("label {name}"),
            });
        }
    }
    out
}

/// The namespace of the Argo CD Application `name`, if the cluster has one (and the CRD).
fn argo_application_namespace(k: &Kubectl, name: &str) -> Option<String> {
    let out = k
        .cmd(["get", ARGO_APPS, "--all-namespaces", "-o", "json"])
        .timeout(SHORT)
        .run()
        .ok()?;
    let list: Value = serde_json::from_str(&out.stdout).ok()?;
    list["items"]
        .as_array()?
        .iter()
        .find(|a| a["metadata"]["name"] == name)
        .and_then(|a| a["metadata"]["namespace"].as_str())
        .map(str::to_string)
}

/// A Kubernetes object a rollback of the model changes, and how to read what it runs.
#[derive(Debug, Clone)]
pub struct Touched {
    pub k: Kubectl,
    pub resource: &'static str,
    pub name: String,
    pub shown: String,
    /// What git must hold once it is rolled back (None: mlrb cannot tell, e.g. a canary split).
    pub live: Option<Live>,
}

/// Where the value git must hold is read after the rollback.
#[derive(Debug, Clone)]
pub enum Live {
    /// The Deployment's container image (the named container, else the one named like the
    /// Deployment, else the only one).
    Image {
        container: Option<String>,
        tag_only: bool,
    },
    /// The Service's selector value at this key (blue-green).
    Selector(String),
    /// The container's environment variable (kubectl-set-env serving).
    Env {
        container: Option<String>,
        var: String,
    },
    /// The version the registry rollback goes to (set once the plan is made).
    Version(u64),
}

impl Touched {
    /// What runs now, as git must write it.
    pub fn value(&self) -> std::result::Result<String, String> {
        let obj = || {
            self.k
                .get_json(self.resource, &self.name)
                .map_err(|e| format!("cannot read {}: {e}", self.shown))
        };
        match &self.live {
            None => Err(format!(
                "mlrb cannot tell what git must hold for {}",
                self.shown
            )),
            Some(Live::Version(v)) => Ok(v.to_string()),
            Some(Live::Selector(key)) => obj()?["spec"]["selector"][key]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| format!("{} has no selector `{key}`", self.shown)),
            Some(Live::Image {
                container,
                tag_only,
            }) => {
                let o = obj()?;
                let c = self.container(&o, container.as_deref())?;
                let image = c["image"].as_str().unwrap_or("").to_string();
                Ok(if *tag_only { tag_of(&image) } else { image })
            }
            Some(Live::Env { container, var }) => {
                let o = obj()?;
                let c = self.container(&o, container.as_deref())?;
                c["env"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|e| e["name"] == var.as_str())
                    .and_then(|e| e["value"].as_str())
                    .map(str::to_string)
                    .ok_or_else(|| format!("{} does not set {var}", self.shown))
            }
        }
    }

    fn container<'v>(
        &self,
        obj: &'v Value,
        named: Option<&str>,
    ) -> std::result::Result<&'v Value, String> {
        let cs: Vec<&Value> = obj["spec"]["template"]["spec"]["containers"]
            .as_array()
            .into_iter()
            .flatten()
            .collect();
        let by = |n: &str| cs.iter().copied().find(|c| c["name"] == n);
        match named {
            Some(n) => by(n).ok_or_else(|| format!("{} has no container {n}", self.shown)),
            None => by(&self.name)
                .or(match cs.as_slice() {
                    [only] => Some(*only),
                    _ => None,
                })
                .ok_or_else(|| {
                    format!(
                        "{} has several containers and none named {}: name the one in [models.*.serving] container",
                        self.shown, self.name
                    )
                }),
        }
    }
}

/// `reg/ms:v2` → `v2` (a digest stays whole).
fn tag_of(image: &str) -> String {
    if image.contains('@') {
        return image.to_string();
    }
    match image.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') && !repo.is_empty() => tag.to_string(),
        _ => "latest".into(),
    }
}

fn at(ns: &Option<String>, context: &Option<String>) -> String {
    let mut s = String::new();
    if let Some(n) = ns {
        s.push_str(&format!(" in namespace {n}"));
    }
    if let Some(c) = context {
        s.push_str(&format!(" (context {c})"));
    }
    s
}

/// The Kubernetes objects a rollback of the model changes (by its config).
pub fn touched(m: &ModelConfig, which: Which) -> Vec<Touched> {
    let tag_only = m
        .gitops
        .as_ref()
        .is_some_and(|g| g.value == GitopsValue::Tag);
    match which {
        Which::Infra => {
            let c = &m.infra;
            let k = Kubectl {
                context: c.context.clone(),
                namespace: c.namespace.clone(),
            };
            let w = at(&c.namespace, &c.context);
            let one = |resource: &'static str, kind: &str, name: &Option<String>, live| {
                name.as_ref()
                    .map(|n| Touched {
                        k: k.clone(),
                        resource,
                        name: n.clone(),
                        shown: format!("{kind}/{n}{w}"),
                        live,
                    })
                    .into_iter()
                    .collect()
            };
            let image = Some(Live::Image {
                container: None,
                tag_only,
            });
            match c.strategy {
                InfraStrategy::Kubectl | InfraStrategy::Helm => {
                    one("deployment", "deployment", &c.deployment, image)
                }
                InfraStrategy::BlueGreen => one(
                    "service",
                    "service",
                    &c.service,
                    Some(Live::Selector(
                        c.selector_key.clone().unwrap_or_else(|| "color".into()),
                    )),
                ),
                InfraStrategy::Istio => one(
                    "virtualservices.networking.istio.io",
                    "virtualservice",
                    &c.virtual_service,
                    None,
                ),
                InfraStrategy::ArgoRollouts => {
                    one("rollouts.argoproj.io", "rollout", &c.rollout, None)
                }
                InfraStrategy::KserveCanary => one(
                    "inferenceservices.serving.kserve.io",
                    "inferenceservice",
                    &c.inference_service,
                    None,
                ),
                // Not configured; a strategy added later says here what it changes.
                _ => Vec::new(),
            }
        }
        Which::Model => {
            let s = &m.serving;
            let k = Kubectl {
                context: s.context.clone(),
                namespace: s.namespace.clone(),
            };
            let live = match s.kind {
                ServingKind::KubectlSetEnv => Live::Env {
                    container: s.container.clone(),
                    var: s.env_var.clone().unwrap_or_else(|| "MODEL_VERSION".into()),
                },
                _ => Live::Version(0),
            };
            match (s.kind, &s.deployment) {
                (ServingKind::KubectlRestart | ServingKind::KubectlSetEnv, Some(d))
                | (ServingKind::HelmSet, Some(d)) => vec![Touched {
                    k,
                    resource: "deployment",
                    name: d.clone(),
                    shown: format!("deployment/{d}{}", at(&s.namespace, &s.context)),
                    live: Some(live),
                }],
                // What git should hold after a KServe rollback (a storageUri) is not a value mlrb
                // writes: detected and refused under a gitops section, like an Istio reversal.
                (ServingKind::Kserve, _) => s
                    .inference_service
                    .iter()
                    .map(|n| Touched {
                        k: k.clone(),
                        resource: "inferenceservices.serving.kserve.io",
                        name: n.clone(),
                        shown: format!("inferenceservice/{n}{}", at(&s.namespace, &s.context)),
                        live: None,
                    })
                    .collect(),
                _ => Vec::new(),
            }
        }
    }
}

/// The controller's object named by `[models.X.gitops]`.
#[derive(Debug, Clone)]
struct Controller {
    k: Kubectl,
    kind: GitopsKind,
    resource: &'static str,
    name: String,
    shown: String,
}

impl Controller {
    fn of(cfg: &GitopsConfig, fallback_context: Option<String>) -> Controller {
        let (resource, name, what) = cfg.object();
        let ns = cfg.namespace();
        Controller {
            k: Kubectl {
                context: cfg.context.clone().or(fallback_context),
                namespace: Some(ns.clone()),
            },
            kind: cfg.kind,
            resource,
            shown: format!("{what} {name} (namespace {ns})"),
            name,
        }
    }

    fn read(&self) -> std::result::Result<Value, String> {
        self.k
            .get_json(self.resource, &self.name)
            .map_err(|e| kubectl::explain_in(&e, &self.shown, "gitops").0)
    }

    /// Whether its sync is off now.
    fn suspended(&self, obj: &Value) -> bool {
        match self.kind {
            GitopsKind::Argocd => obj
                .pointer("/spec/syncPolicy/automated")
                .is_none_or(Value::is_null),
            GitopsKind::Flux => obj["spec"]["suspend"].as_bool() == Some(true),
        }
    }

    /// The sync setting as recorded before mlrb suspended it.
    fn setting(&self, obj: &Value) -> String {
        match self.kind {
            GitopsKind::Argocd => match obj.pointer("/spec/syncPolicy/automated") {
                Some(a) if !a.is_null() => a.to_string(),
                _ => "off".into(),
            },
            GitopsKind::Flux => (obj["spec"]["suspend"].as_bool() == Some(true)).to_string(),
        }
    }

    /// The merge patch that puts the recorded setting `was` back and drops mlrb's record.
    fn resume_patch(&self, was: &str) -> Value {
        let drop = json!({SUSPENDED_BY: null, SUSPENDED_AT: null, SUSPENDED_WAS: null});
        match self.kind {
            GitopsKind::Argocd => {
                let automated: Value = serde_json::from_str(was).unwrap_or(Value::Null);
                if automated.is_object() {
                    json!({"metadata": {"annotations": drop}, "spec": {"syncPolicy": {"automated": automated}}})
                } else {
                    json!({"metadata": {"annotations": drop}})
                }
            }
            GitopsKind::Flux => {
                json!({"metadata": {"annotations": drop}, "spec": {"suspend": was == "true"}})
            }
        }
    }

    /// The kubectl command that resumes its sync by hand, as recorded on it.
    fn resume_command(&self, was: &str) -> String {
        let mut p = self.resume_patch(was);
        if let Some(a) = p.pointer_mut("/metadata/annotations") {
            *a = json!({SUSPENDED_BY: null, SUSPENDED_AT: null, SUSPENDED_WAS: null});
        }
        format!(
            "{} '{}'",
            self.k
                .cmd([
                    "patch",
                    self.resource,
                    self.name.as_str(),
                    "--type=merge",
                    "-p"
                ])
                .line(),
            p
        )
    }

    /// Reads, asks `decide` for a merge patch, and writes it only at the resourceVersion read.
    fn patch(
        &self,
        mut decide: impl FnMut(&Value) -> std::result::Result<Option<Value>, String>,
    ) -> std::result::Result<Value, String> {
        for _ in 0..8 {
            let obj = self.read()?;
            let Some(mut patch) = decide(&obj)? else {
                return Ok(obj);
            };
            patch["metadata"]["resourceVersion"] = kubectl::resource_version(&obj).into();
            let cmd = self
                .k
                .cmd([
                    "patch".to_string(),
                    self.resource.to_string(),
                    self.name.clone(),
                    "--type=merge".into(),
                    "-p".into(),
                    patch.to_string(),
                ])
                .timeout(Duration::from_secs(60));
            match cmd.run() {
                Ok(_) => return Ok(obj),
                Err(e) if kubectl::is_conflict(&e) => continue,
                Err(e) => return Err(kubectl::explain_in(&e, &self.shown, "gitops").0),
            }
        }
        Err(format!("{} kept changing while mlrb wrote it", self.shown))
    }

    fn off_words(&self) -> &'static str {
        match self.kind {
            GitopsKind::Argocd => "auto-sync",
            GitopsKind::Flux => "reconciliation",
        }
    }
}

/// The GitOps repository's file and key.
#[derive(Debug, Clone)]
struct Repo {
    dir: PathBuf,
    file: PathBuf,
    key: String,
    segs: Vec<yaml::Seg>,
}

impl Repo {
    fn open(&self) -> std::result::Result<git2::Repository, String> {
        git2::Repository::open(&self.dir).map_err(|e| {
            format!(
                "cannot open the GitOps repository {}: {}",
                self.dir.display(),
                e.message()
            )
        })
    }

    /// The file's text at HEAD.
    fn at_head(&self, repo: &git2::Repository) -> std::result::Result<String, String> {
        let head = repo
            .head()
            .and_then(|h| h.peel_to_commit())
            .map_err(|e| format!("{}: no HEAD commit ({})", self.dir.display(), e.message()))?;
        let entry = head
            .tree()
            .and_then(|t| t.get_path(&self.file))
            .map_err(|_| {
                format!(
                    "{} is not in the GitOps repository {} at HEAD",
                    self.file.display(),
                    self.dir.display()
                )
            })?;
        let blob = repo
            .find_blob(entry.id())
            .map_err(|e| format!("{}: {}", self.file.display(), e.message()))?;
        String::from_utf8(blob.content().to_vec())
            .map_err(|_| format!("{} is not UTF-8 text", self.file.display()))
    }

    /// The value at the key in HEAD's file.
    fn value_at_head(&self) -> std::result::Result<String, String> {
        let repo = self.open()?;
        let text = self.at_head(&repo)?;
        yaml::get(&text, &self.segs)
            .ok_or_else(|| format!("{} has no scalar at `{}`", self.file.display(), self.key))
    }

    /// Whether the file has changes that are not committed.
    fn dirty(&self, repo: &git2::Repository) -> bool {
        repo.status_file(&self.file)
            .is_ok_and(|s| !s.is_empty() && s != git2::Status::IGNORED)
    }

    /// Whether the branch's upstream holds HEAD (None: the branch has no upstream, so the
    /// repository itself is what the controller reads).
    fn pushed(&self) -> Option<bool> {
        let repo = self.open().ok()?;
        let head = repo.head().ok()?;
        let name = head.shorthand()?.to_string();
        let branch = repo.find_branch(&name, git2::BranchType::Local).ok()?;
        let up = branch.upstream().ok()?.get().target()?;
        let ours = head.target()?;
        Some(up == ours || repo.graph_descendant_of(up, ours).unwrap_or(false))
    }
}

/// What every gitops step shares.
struct Shared {
    ctl: Controller,
    repo: Repo,
    live: Touched,
    /// The interrupted event being resumed.
    resumed: Option<String>,
}

struct Suspend(std::rc::Rc<Shared>);

impl Step for Suspend {
    fn line(&self) -> String {
        let c = &self.0.ctl;
        match c.kind {
            GitopsKind::Argocd => format!(
                "suspend sync: remove spec.syncPolicy.automated of {} (recorded in its {SUSPENDED_WAS} annotation)",
                c.shown
            ),
            GitopsKind::Flux => format!(
                "suspend sync: set spec.suspend = true on {} (what it was recorded in its {SUSPENDED_WAS} annotation)",
                c.shown
            ),
        }
    }

    fn done(&self) -> bool {
        let s = &self.0;
        let Some(event) = &s.resumed else {
            return false;
        };
        s.ctl.read().is_ok_and(|o| {
            o.pointer("/metadata/annotations")
                .and_then(|a| a.get(SUSPENDED_BY))
                .and_then(Value::as_str)
                == Some(event.as_str())
                && s.ctl.suspended(&o)
        })
    }

    fn run(&self, event: &str) -> std::result::Result<String, StepFailure> {
        let c = &self.0.ctl;
        let mut was = String::new();
        c.patch(|o| {
            let ann = o.pointer("/metadata/annotations");
            let by = ann
                .and_then(|a| a.get(SUSPENDED_BY))
                .and_then(Value::as_str);
            // Suspended by an earlier mlrb rollback (kept suspended): its record of the
            // setting before stays the one to put back.
            was = match (by, ann.and_then(|a| a.get(SUSPENDED_WAS)).and_then(Value::as_str)) {
                (Some(_), Some(w)) if c.suspended(o) => w.to_string(),
                _ => c.setting(o),
            };
            let annotations = json!({
                SUSPENDED_BY: event,
                SUSPENDED_AT: clock::fmt(clock::now()),
                SUSPENDED_WAS: was,
            });
            Ok(Some(match c.kind {
                GitopsKind::Argocd => json!({"metadata": {"annotations": annotations}, "spec": {"syncPolicy": {"automated": null}}}),
                GitopsKind::Flux => json!({"metadata": {"annotations": annotations}, "spec": {"suspend": true}}),
            }))
        })
        .map_err(StepFailure::from)?;
        Ok(match (c.kind, was.as_str()) {
            (GitopsKind::Argocd, "off") => {
                format!("auto-sync of {} was already off; recorded as off", c.shown)
            }
            (GitopsKind::Argocd, w) => format!(
                "auto-sync of {} turned off (it was {w}; recorded on it)",
                c.shown
            ),
            (GitopsKind::Flux, "true") => {
                format!("{} was already suspended; recorded as such", c.shown)
            }
            (GitopsKind::Flux, _) => format!("{} suspended (spec.suspend: true)", c.shown),
        })
    }
}

struct Commit {
    s: std::rc::Rc<Shared>,
    message: String,
}

impl Step for Commit {
    fn line(&self) -> String {
        let r = &self.s.repo;
        format!(
            "git2      commit {} `{}` = what {} runs after the rollback, in {} (message names the event)",
            r.file.display(),
            r.key,
            self.s.live.shown,
            r.dir.display()
        )
    }

    /// Done when HEAD already holds what runs.
    fn done(&self) -> bool {
        matches!((self.s.repo.value_at_head(), self.s.live.value()), (Ok(a), Ok(b)) if a == b)
    }

    fn run(&self, event: &str) -> std::result::Result<String, StepFailure> {
        let r = &self.s.repo;
        let want = self.s.live.value()?;
        let repo = r.open()?;
        let text = r.at_head(&repo)?;
        let old = yaml::get(&text, &r.segs).unwrap_or_default();
        if old == want {
            return Ok(format!(
                "{} `{}` already holds {want} at HEAD; nothing to commit",
                r.file.display(),
                r.key
            ));
        }
        let new = yaml::set(&text, &r.segs, &want)
            .map_err(|e| format!("cannot write `{}` in {}: {e}", r.key, r.file.display()))?;
        let root = repo
            .workdir()
            .ok_or_else(|| format!("{} has no work tree (a bare repository)", r.dir.display()))?
            .to_path_buf();
        // A change in the work tree is refused, unless it is exactly this commit's (written
        // before a crash, not yet committed).
        if r.dirty(&repo)
            && std::fs::read_to_string(root.join(&r.file)).ok().as_deref() != Some(new.as_str())
        {
            return Err(StepFailure {
                detail: format!(
                    "{} has uncommitted changes in {}; the rollback is done, the revert is not committed",
                    r.file.display(),
                    r.dir.display()
                ),
                hint: Some("commit or stash them, then finish with --resume".into()),
            });
        }
        std::fs::write(root.join(&r.file), &new)
            .map_err(|e| format!("cannot write {}: {e}", r.file.display()))?;
        let commit = (|| {
            let mut index = repo.index()?;
            index.add_path(&r.file)?;
            index.write()?;
            let message = self
                .message
                .replace("{event}", event)
                .replace("{old}", &old)
                .replace("{new}", &want);
            crate::exec::git::commit_index(&repo, &message)
        })()
        .map_err(|e| format!("git commit failed: {}", e.message()))?;
        Ok(format!(
            "committed {}: {} `{}` {old} → {want}",
            &commit.to_string()[..10],
            r.file.display(),
            r.key
        ))
    }
}

struct Push {
    s: std::rc::Rc<Shared>,
    cmd: crate::exec::Cmd,
}

impl Step for Push {
    fn line(&self) -> String {
        format!("run       {}", self.cmd.line())
    }
    fn done(&self) -> bool {
        self.s.resumed.is_some() && self.s.repo.pushed() == Some(true)
    }
    fn run(&self, _event: &str) -> std::result::Result<String, StepFailure> {
        self.cmd
            .run()
            .map(|_| "pushed".to_string())
            .map_err(|e| StepFailure {
                detail: format!("{e} (the commit is in place locally; sync stays suspended)"),
                hint: Some("push it by hand, then finish with --resume".into()),
            })
    }
}

struct Resume(std::rc::Rc<Shared>);

impl Step for Resume {
    fn line(&self) -> String {
        let s = &self.0;
        format!(
            "resume sync: put back the recorded {} of {} once {} `{}` matches what {} runs",
            match s.ctl.kind {
                GitopsKind::Argocd => "spec.syncPolicy.automated",
                GitopsKind::Flux => "spec.suspend",
            },
            s.ctl.shown,
            s.repo.file.display(),
            s.repo.key,
            s.live.shown
        )
    }

    fn done(&self) -> bool {
        let s = &self.0;
        s.resumed.is_some()
            && s.ctl.read().is_ok_and(|o| {
                o.pointer("/metadata/annotations")
                    .and_then(|a| a.get(SUSPENDED_BY))
                    .is_none()
            })
    }

    fn run(&self, event: &str) -> std::result::Result<String, StepFailure> {
        let s = &self.0;
        let runs = s.live.value()?;
        let in_git = s.repo.value_at_head()?;
        if runs != in_git {
            return Err(StepFailure {
                detail: format!(
                    "git does not match what runs: {} `{}` is {in_git} at HEAD, {} runs {runs}; sync of {} stays suspended",
                    s.repo.file.display(),
                    s.repo.key,
                    s.live.shown,
                    s.ctl.shown
                ),
                hint: Some("commit the value that runs, then finish with --resume".into()),
            });
        }
        if s.repo.pushed() == Some(false) {
            return Err(StepFailure {
                detail: format!(
                    "the revert is committed in {} but not pushed: the controller would sync the old state; sync of {} stays suspended",
                    s.repo.dir.display(),
                    s.ctl.shown
                ),
                hint: Some("push it (`git push`), then finish with --resume".into()),
            });
        }
        let mut was = String::new();
        let mut other = None;
        s.ctl
            .patch(|o| {
                let ann = o.pointer("/metadata/annotations");
                let by = ann
                    .and_then(|a| a.get(SUSPENDED_BY))
                    .and_then(Value::as_str);
                match by {
                    None => Ok(None),
                    Some(b) if b != event => {
                        other = Some(b.to_string());
                        Ok(None)
                    }
                    Some(_) => {
                        was = ann
                            .and_then(|a| a.get(SUSPENDED_WAS))
                            .and_then(Value::as_str)
                            .unwrap_or("off")
                            .to_string();
                        Ok(Some(s.ctl.resume_patch(&was)))
                    }
                }
            })
            .map_err(StepFailure::from)?;
        if let Some(b) = other {
            return Err(format!(
                "{} was suspended again by {b} since; left as it is",
                s.ctl.shown
            )
            .into());
        }
        Ok(match (s.ctl.kind, was.as_str()) {
            (_, "") => format!("sync of {} was already resumed", s.ctl.shown),
            (GitopsKind::Argocd, "off") => format!(
                "git matches what runs ({runs}); auto-sync of {} left off, as it was before",
                s.ctl.shown
            ),
            (GitopsKind::Argocd, w) => format!(
                "git matches what runs ({runs}); auto-sync of {} restored ({w})",
                s.ctl.shown
            ),
            (GitopsKind::Flux, "true") => format!(
                "git matches what runs ({runs}); {} left suspended, as it was before",
                s.ctl.shown
            ),
            (GitopsKind::Flux, _) => format!(
                "git matches what runs ({runs}); {} resumed (spec.suspend: false)",
                s.ctl.shown
            ),
        })
    }
}

/// A kind whose plan gains the GitOps steps (or is refused) when what it changes is managed.
pub struct Gitops {
    inner: Box<dyn Kind>,
    model: String,
    which: Which,
    flags: Flags,
    cfg: Option<GitopsConfig>,
    objects: Vec<Touched>,
}

/// Wraps `inner`, a rollback of `model`, with what its managed objects need.
pub fn wrap(ctx: &Ctx, inner: Box<dyn Kind>, model: &str, which: Which, flags: Flags) -> Gitops {
    let m = ctx.settings.models.get(model).cloned().unwrap_or_default();
    Gitops {
        inner,
        model: model.to_string(),
        which,
        flags,
        objects: touched(&m, which),
        cfg: m.gitops.clone(),
    }
}

impl Gitops {
    /// Each object that its marks say is managed, with its managers.
    fn managed(&self) -> Vec<(&Touched, Vec<Manager>)> {
        self.objects
            .iter()
            .filter_map(|t| {
                let obj = t.k.get_json(t.resource, &t.name).ok()?;
                let m = managers_of(&t.k, &obj);
                (!m.is_empty()).then_some((t, m))
            })
            .collect()
    }

    fn command(&self) -> &'static str {
        match self.which {
            Which::Infra => "rollback infra",
            Which::Model => "rollback model",
        }
    }

    /// The GitOps repository, opened and checked before anything changes: the file at HEAD,
    /// its value at the key, and no uncommitted change to it (unless resuming, when it may be
    /// this event's own).
    fn checked_repo(&self, cfg: &GitopsConfig, resuming: bool) -> Result<(Repo, String)> {
        let key = &self.model;
        let repo = Repo {
            dir: cfg.repo.clone(),
            file: cfg.file.clone(),
            key: cfg.key.clone(),
            segs: yaml::parse_key(&cfg.key).map_err(CliError::usage)?,
        };
        let git = repo
            .open()
            .map_err(|e| CliError::usage(format!("[models.{key}.gitops] {e}")))?;
        let text = repo
            .at_head(&git)
            .map_err(|e| CliError::usage(format!("[models.{key}.gitops] {e}")))?;
        let current = yaml::get(&text, &repo.segs).ok_or_else(|| {
            CliError::usage(format!(
                "[models.{key}.gitops] {} has no block-style scalar at `{}` (at HEAD of {}); check `key`",
                repo.file.display(),
                repo.key,
                repo.dir.display()
            ))
        })?;
        if !resuming && repo.dirty(&git) {
            return Err(CliError::new(
                ExitStatus::Refused,
                format!(
                    "refusing to roll back: {} has uncommitted changes in the GitOps repository {}; nothing was changed",
                    repo.file.display(),
                    repo.dir.display()
                ),
            )
            .with_hint(format!(
                "commit or stash them first (`git -C {} stash -- {}`)",
                repo.dir.display(),
                repo.file.display()
            ))
            .into());
        }
        Ok((repo, current))
    }

    /// The plan with the GitOps steps around its own.
    fn extend(
        &self,
        req: &Request,
        mut plan: Box<Plan>,
        cfg: &GitopsConfig,
        managed: &[(&Touched, Vec<Manager>)],
        resumed: Option<String>,
    ) -> Result<Box<Plan>> {
        let key = &self.model;
        // Not empty: `plan` passes a rollback that touches no object through.
        let mut live = self.objects[0].clone();
        if let Some(Live::Version(v)) = &mut live.live {
            *v = plan.to;
        }
        if live.live.is_none() {
            return Err(CliError::usage(format!(
                "[models.{key}.gitops]: mlrb cannot tell which value git must hold after a rollback of {} (a canary split or an abort); revert it in git by hand, and re-run with --ignore-gitops instead of the section",
                live.shown
            ))
            .into());
        }
        let ctl = Controller::of(cfg, live.k.context.clone());
        // The controller's object must be there: it is what the steps change.
        let obj = ctl.read().map_err(|e| {
            CliError::usage(format!("[models.{key}.gitops]: {e}; nothing was changed"))
        })?;
        let (repo, current) = self.checked_repo(cfg, resumed.is_some())?;
        // What runs must be readable now: after the rollback is too late to find out.
        let runs = live.value().map_err(|e| {
            CliError::usage(format!("[models.{key}.gitops]: {e}; nothing was changed"))
        })?;
        let upstream = repo.pushed().is_some();
        let resume = !self.flags.keep_suspended && (self.flags.push || !upstream);
        let shared = std::rc::Rc::new(Shared {
            ctl: ctl.clone(),
            repo: repo.clone(),
            live: live.clone(),
            resumed,
        });
        let message = format!(
            "Roll back {key}: {} {{old}} → {{new}} (mlrb {{event}})\n\nmlrb {} {key} rolled back {}; this puts {} `{}` back in line with what runs, so {} keeps it.\nReason: {}\nTriggered by: {}\n",
            repo.key,
            self.command(),
            live.shown,
            repo.file.display(),
            repo.key,
            ctl.shown,
            if req.reason.is_empty() {
                "none given"
            } else {
                &req.reason
            },
            req.who
        );
        let inner_steps = std::mem::take(&mut plan.steps);
        let n_inner = inner_steps.len();
        let mut steps: Vec<Box<dyn Step>> = vec![Box::new(Suspend(shared.clone()))];
        steps.extend(inner_steps);
        steps.push(Box::new(Commit {
            s: shared.clone(),
            message,
        }));
        if self.flags.push {
            steps.push(Box::new(Push {
                s: shared.clone(),
                cmd: crate::exec::git::push(&repo.dir),
            }));
        }
        if resume {
            steps.push(Box::new(Resume(shared.clone())));
        }
        // The plan text: who manages what, and the steps around the rollback's own.
        let mut text = managed_lines(managed, key, &ctl.shown, &live.shown);
        text.push_str(&format!(
            "  gitops: {} `{}` is {current} at HEAD of {}{}\n",
            repo.file.display(),
            repo.key,
            repo.dir.display(),
            match live.live {
                Some(Live::Version(_)) => String::new(),
                _ => format!("; {} runs {runs} now", live.shown),
            }
        ));
        let after: Vec<String> = steps[n_inner + 1..].iter().map(|s| s.line()).collect();
        match renumbered(&plan.text, &steps[0].line(), &after, n_inner) {
            Some(t) => plan.text = t,
            // A plan text not numbered as the engine numbers its steps: the steps around it.
            None => {
                text.push_str(&format!(
                    "    first   {}\n    then    the steps above\n",
                    steps[0].line()
                ));
                for l in &after {
                    text.push_str(&format!("    then    {l}\n"));
                }
            }
        }
        let was = ctl.setting(&obj);
        let by_hand = ctl.resume_command(&was);
        if !resume {
            let why = if self.flags.keep_suspended {
                "--keep-suspended".to_string()
            } else {
                "the commit is not pushed (no --push), and the controller reads the remote".into()
            };
            let note = format!(
                "sync of {} stays suspended after the rollback ({why}); `mlrb status {key}` shows it until it is resumed: {by_hand}",
                ctl.shown
            );
            text.push_str(&format!("    note    {note}\n"));
            plan.notes.push(note);
        }
        plan.text.push_str(&text);
        plan.steps = steps;
        plan.on_failure = Some(around_failure(
            plan.on_failure.take(),
            n_inner,
            ctl.shown.clone(),
        ));
        plan.view.insert(
            "gitops".into(),
            json!({
                "kind": match cfg.kind { GitopsKind::Argocd => "argocd", GitopsKind::Flux => "flux" },
                "object": ctl.shown,
                "repo": repo.dir.display().to_string(),
                "file": repo.file.display().to_string(),
                "key": repo.key,
                "in_git": current,
                "push": self.flags.push,
                "resume_sync": resume,
            }),
        );
        Ok(plan)
    }
}

impl Kind for Gitops {
    fn subject(&self) -> Subject {
        self.inner.subject()
    }

    fn plan(&self, ctx: &Ctx, req: &Request, resuming: Option<&Record>) -> Result<Planned> {
        let planned = self.inner.plan(ctx, req, resuming)?;
        // A rollback that changes no Kubernetes object (a model served by HTTP reload, say)
        // has nothing a controller would revert.
        if self.objects.is_empty() {
            return Ok(planned);
        }
        let Planned::Plan(plan) = planned else {
            return Ok(planned);
        };
        let managed = self.managed();
        let key = &self.model;
        match &self.cfg {
            Some(cfg) => {
                // The section must name the controller the object's marks name.
                let (_, name, _) = cfg.object();
                let kind = match cfg.kind {
                    GitopsKind::Argocd => "argocd",
                    GitopsKind::Flux => "flux",
                };
                for (t, ms) in &managed {
                    if !ms.iter().any(|m| m.kind == kind && m.name == name) {
                        return Err(CliError::usage(format!(
                            "{} is managed by {}, but [models.{key}.gitops] names {} {name}; nothing was changed",
                            t.shown,
                            ms.iter().map(Manager::shown).collect::<Vec<_>>().join(" and "),
                            cfg.object().2
                        ))
                        .with_hint("fix [models.*.gitops] to name the controller that manages it")
                        .into());
                    }
                }
                let resumed = resuming.map(|r| r.event.clone());
                let plan = self.extend(req, plan, cfg, &managed, resumed)?;
                Ok(Planned::Plan(plan))
            }
            None if managed.is_empty() => Ok(Planned::Plan(plan)),
            None => {
                let (t, ms) = &managed[0];
                let by = ms
                    .iter()
                    .map(Manager::shown)
                    .collect::<Vec<_>>()
                    .join(" and ");
                if !self.flags.ignore {
                    return Err(CliError::usage(format!(
                        "{} is managed by {by} ({}): its next sync would undo this rollback; add [models.{key}.gitops] so mlrb suspends sync and commits the revert, or re-run with --ignore-gitops knowing the controller will revert it; nothing was changed",
                        t.shown, ms[0].by
                    ))
                    .into());
                }
                let mut plan = plan;
                let note = format!(
                    "{} is managed by {by}: --ignore-gitops was given, so its next sync will revert this rollback unless the change is made in git",
                    t.shown
                );
                plan.text.push_str(&format!("  managed: {note}\n"));
                plan.notes.push(note);
                plan.view
                    .insert("gitops".into(), json!({"managed_by": ms, "ignored": true}));
                Ok(Planned::Plan(plan))
            }
        }
    }

    fn ending(&self, ending: Ending) -> Ending {
        self.inner.ending(ending)
    }
    fn baseline(&self) -> Option<crate::metrics::Baseline> {
        self.inner.baseline()
    }
    fn journal_plan(&self) -> Option<(Vec<crate::plan::Step>, crate::registry::LiveMode)> {
        self.inner.journal_plan()
    }
    fn command(&self) -> String {
        self.inner.command()
    }
    fn journal_records(&self) -> Vec<Entry> {
        self.inner.journal_records()
    }
    fn take_known(&self) -> Option<crate::timeline::facts::Known> {
        self.inner.take_known()
    }
    fn abandon(&self, event: &str) -> Result<bool> {
        self.inner.abandon(event)
    }
    fn unfinished_elsewhere(&self, req: &Request) -> Result<Option<(String, Vec<Entry>)>> {
        self.inner.unfinished_elsewhere(req)
    }
}

/// The plan's lines saying what manages what (or that the section names a controller the
/// object carries no mark of).
fn managed_lines(
    managed: &[(&Touched, Vec<Manager>)],
    key: &str,
    controller: &str,
    object: &str,
) -> String {
    let mut text = String::new();
    for (t, ms) in managed {
        for m in ms {
            text.push_str(&format!(
                "  managed: {} is managed by {} ({})\n",
                t.shown,
                m.shown(),
                m.by
            ));
        }
    }
    if managed.is_empty() {
        text.push_str(&format!(
            "  managed: [models.{key}.gitops] names {controller}; {object} carries no Argo CD or Flux mark\n"
        ));
    }
    text
}

/// What a failed step left, in the wrapped plan's step numbers: before the suspension nothing,
/// during the rollback what the kind says plus the suspension, after it the suspension alone.
fn around_failure(
    inner: Option<Box<dyn Fn(usize) -> String>>,
    n_inner: usize,
    shown: String,
) -> Box<dyn Fn(usize) -> String> {
    Box::new(move |i| {
        if i == 0 {
            "; nothing was changed".into()
        } else if i <= n_inner {
            format!(
                "{}; sync of {shown} is suspended (recorded on it): finish with --resume",
                inner.as_ref().map(|f| f(i - 1)).unwrap_or_default()
            )
        } else {
            format!(
                "; the rollback is done, sync of {shown} stays suspended until --resume finishes"
            )
        }
    })
}

/// The plan text with the suspension as step 1 and the steps after the rollback's own before
/// its verification, numbered as the engine runs them; None when the text does not number
/// exactly the rollback's steps and its verification (`  N. …` lines).
fn renumbered(text: &str, first: &str, after: &[String], n_inner: usize) -> Option<String> {
    let number = |l: &str| -> Option<(usize, usize)> {
        let t = l.strip_prefix("  ")?;
        let dot = t.find(". ")?;
        let n: usize = t[..dot].trim_start().parse().ok()?;
        (dot <= 3).then_some((n, 2 + dot + 2))
    };
    let numbered: Vec<usize> = text.lines().filter_map(number).map(|(n, _)| n).collect();
    if numbered != (1..=n_inner + 1).collect::<Vec<_>>() {
        return None;
    }
    let mut out = String::new();
    let line = |n: usize, body: &str| format!("  {n:>2}. {body}\n");
    for l in text.lines() {
        match number(l) {
            Some((1, at)) => {
                out.push_str(&line(1, first));
                out.push_str(&line(2, &l[at..]));
            }
            Some((n, at)) if n == n_inner + 1 => {
                for (i, a) in after.iter().enumerate() {
                    out.push_str(&line(n_inner + 2 + i, a));
                }
                out.push_str(&line(n_inner + 2 + after.len(), &l[at..]));
            }
            Some((n, at)) => out.push_str(&line(n + 1, &l[at..])),
            None => {
                out.push_str(l);
                out.push('\n');
            }
        }
    }
    Some(out)
}

/// What `status` says about a model's managed objects and a sync mlrb holds suspended.
#[derive(Debug, Serialize)]
pub struct GitopsStatus {
    /// One line per managed object ("deployment/ms is managed by Argo CD Application …").
    pub managed: Vec<String>,
    /// The suspension mlrb left in place (`--keep-suspended`, or an unfinished rollback).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suspended: Option<SuspendedView>,
}

#[derive(Debug, Serialize)]
pub struct SuspendedView {
    pub object: String,
    pub event: String,
    pub since: String,
    pub resume_command: String,
    pub message: String,
}

/// The status of the model's GitOps controller: None when nothing it rolls back is managed and
/// no section names one. Reads the cluster with short timeouts; an unreachable one says nothing.
pub fn status(key: &str, m: &ModelConfig) -> Option<GitopsStatus> {
    let mut managed = Vec::new();
    let mut seen = Vec::new();
    for t in touched(m, Which::Infra)
        .into_iter()
        .chain(touched(m, Which::Model))
    {
        if seen.contains(&t.shown) {
            continue;
        }
        seen.push(t.shown.clone());
        let Ok(out) =
            t.k.cmd(["get", t.resource, t.name.as_str(), "-o", "json"])
                .timeout(SHORT)
                .run()
        else {
            continue;
        };
        let Ok(obj) = serde_json::from_str::<Value>(&out.stdout) else {
            continue;
        };
        for mg in managers_of(&t.k, &obj) {
            managed.push(format!(
                "{} is managed by {} ({}){}",
                t.shown,
                mg.shown(),
                mg.by,
                if m.gitops.is_some() {
                    String::new()
                } else {
                    format!(
                        ": a rollback of it is refused until [models.{key}.gitops] is configured (or --ignore-gitops is given)"
                    )
                }
            ));
        }
    }
    let suspended = m.gitops.as_ref().and_then(|cfg| {
        let ctl = Controller::of(cfg, m.infra.context.clone().or(m.serving.context.clone()));
        let out = ctl
            .k
            .cmd(["get", ctl.resource, ctl.name.as_str(), "-o", "json"])
            .timeout(SHORT)
            .run()
            .ok()?;
        let obj: Value = serde_json::from_str(&out.stdout).ok()?;
        let ann = obj.pointer("/metadata/annotations")?;
        let event = ann.get(SUSPENDED_BY)?.as_str()?.to_string();
        if !ctl.suspended(&obj) {
            return None;
        }
        let since = ann
            .get(SUSPENDED_AT)
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_string();
        let was = ann
            .get(SUSPENDED_WAS)
            .and_then(Value::as_str)
            .unwrap_or("off");
        let resume_command = ctl.resume_command(was);
        Some(SuspendedView {
            message: format!(
                "{} of {} is suspended by mlrb since {since} (event {event}); once git matches what runs, resume it: {resume_command}",
                ctl.off_words(),
                ctl.shown
            ),
            object: ctl.shown.clone(),
            event,
            since,
            resume_command,
        })
    });
    (!managed.is_empty() || suspended.is_some()).then_some(GitopsStatus { managed, suspended })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_is_renumbered_as_the_engine_runs_it() {
        let text = "Plan for x\n  target: y\n   1. run       undo\n          detail\n   2. run       status\n   3. verify    re-read\n";
        let out = renumbered(text, "suspend", &["commit".into(), "resume".into()], 2).unwrap();
        assert_eq!(
            out,
            "Plan for x\n  target: y\n   1. suspend\n   2. run       undo\n          detail\n   3. run       status\n   4. commit\n   5. resume\n   6. verify    re-read\n"
        );
        assert_eq!(
            renumbered(text, "s", &[], 3),
            None,
            "not the engine's count"
        );
    }

    #[test]
    fn the_tracking_annotation_names_the_application_and_its_namespace() {
        let obj = |id: &str| json!({"metadata": {"annotations": {ARGO_ANNOTATION: id}}});
        let k = Kubectl::default();
        let m = managers_of(&k, &obj("recsys:apps/Deployment:ml/ms"));
        assert_eq!(
            (m[0].name.as_str(), m[0].namespace.as_deref()),
            ("recsys", None)
        );
        let m = managers_of(&k, &obj("team-a_recsys:apps/Deployment:ml/ms"));
        assert_eq!(
            (m[0].name.as_str(), m[0].namespace.as_deref()),
            ("recsys", Some("team-a"))
        );
        assert_eq!(tag_of("reg.example.com:5000/ms:v2"), "v2");
        assert_eq!(tag_of("reg.example.com:5000/ms"), "latest");
    }
}
