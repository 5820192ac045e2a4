//! A real Kubernetes control plane (etcd + kube-apiserver + kube-controller-manager v1.20.2 from
//! the cache tests/env/setup.sh kube fills) with the fake kubelet, started once per test binary
//! on a free port; every daemon runs under with-parent.sh, so it dies with the test process.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{TestEnv, cache_dir, mlflow::free_port, repo_root};

pub struct Kube {
    pub kubeconfig: PathBuf,
    _dir: tempfile::TempDir,
}

fn require() {
    let bin = cache_dir().join("k8s/bin");
    for b in ["kube-apiserver", "kube-controller-manager"] {
        assert!(
            bin.join(b).exists(),
            "{b} is required in {}: run `tests/env/setup.sh kube` (builds Kubernetes v1.20.2 from Debian's source package, ~8 min, cached)",
            bin.display()
        );
    }
    assert!(
        which::which("etcd").is_ok(),
        "etcd is required: run `tests/env/setup.sh kube` (apt-get install etcd-server)"
    );
    assert!(
        which::which("kubectl").is_ok(),
        "kubectl is required: install it (https://kubernetes.io/docs/tasks/tools/ or apt-get install kubernetes-client)"
    );
}

/// The cluster shared by this test binary.
pub fn cluster() -> &'static Kube {
    static K: OnceLock<Kube> = OnceLock::new();
    K.get_or_init(|| {
        require();
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new(repo_root().join("tests/env/start-kube.sh"))
            .arg("--parent")
            .arg(std::process::id().to_string())
            .arg("--fake-kubelet")
            .arg(dir.path().join("kube"))
            .arg(free_port().to_string())
            .env("MLRB_TEST_CACHE", cache_dir())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "tests/env/start-kube.sh failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let k = Kube {
            kubeconfig: dir.path().join("kube/kubeconfig"),
            _dir: dir,
        };
        // CRDs so canary patches are real API writes.
        let crds = repo_root().join("tests/env/crds");
        k.kubectl(&["apply", "-f", crds.to_str().unwrap()]);
        // A CRD created a moment ago may not have its status yet, and `kubectl wait` then fails
        // at once ("accessor error") instead of waiting: ask again until it answers.
        let crd_names = [
            "crd/virtualservices.networking.istio.io",
            "crd/rollouts.argoproj.io",
            "crd/applications.argoproj.io",
            "crd/kustomizations.kustomize.toolkit.fluxcd.io",
            "crd/helmreleases.helm.toolkit.fluxcd.io",
            "crd/analysistemplates.argoproj.io",
            "crd/prometheusrules.monitoring.coreos.com",
        ];
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let out = Command::new("kubectl")
                .args(["wait", "--for=condition=established", "--timeout=60s"])
                .args(crd_names)
                .env("KUBECONFIG", &k.kubeconfig)
                .output()
                .unwrap();
            if out.status.success() {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the test cluster's CRDs did not become established in 60 s: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        k
    })
}

impl Kube {
    /// Runs real kubectl against the cluster; panics with its output on failure.
    pub fn kubectl(&self, args: &[&str]) -> String {
        let out = Command::new("kubectl")
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `kubectl apply -f` of a manifest.
    pub fn apply(&self, ns: &str, yaml: &str) {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), yaml).unwrap();
        self.kubectl(&["-n", ns, "apply", "-f", f.path().to_str().unwrap()]);
    }

    /// A fresh namespace for one test.
    pub fn namespace(&self, prefix: &str) -> String {
        let ns = super::unique(prefix).to_lowercase();
        self.kubectl(&["create", "namespace", &ns]);
        ns
    }

    /// Deployment `name` in `ns` rolled out through `images` in order (one revision each, with
    /// change-cause `deploy IMAGE`); after each, waits until the revision's ReplicaSet is there,
    /// and for every revision except a `broken` one, until it is rolled out.
    pub fn deployment(&self, ns: &str, name: &str, images: &[&str]) {
        self.rollout(ns, name, images, true);
    }

    /// More revisions of an existing Deployment, as `deployment` makes them.
    pub fn deploy(&self, ns: &str, name: &str, images: &[&str]) {
        self.rollout(ns, name, images, false);
    }

    fn rollout(&self, ns: &str, name: &str, images: &[&str], create: bool) {
        for (i, image) in images.iter().enumerate() {
            if i == 0 && create {
                self.kubectl(&[
                    "-n",
                    ns,
                    "create",
                    "deployment",
                    name,
                    &format!("--image={image}"),
                ]);
            } else {
                self.kubectl(&[
                    "-n",
                    ns,
                    "set",
                    "image",
                    &format!("deployment/{name}"),
                    &format!("{name}={image}"),
                ]);
            }
            self.kubectl(&[
                "-n",
                ns,
                "annotate",
                "--overwrite",
                &format!("deployment/{name}"),
                &format!("kubernetes.io/change-cause=deploy {image}"),
            ]);
            self.settled(ns, name, image);
            if !image.contains("broken") {
                self.kubectl(&[
                    "-n",
                    ns,
                    "rollout",
                    "status",
                    &format!("deployment/{name}"),
                    "--timeout=60s",
                ]);
            }
        }
    }

    fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.kubectl(args)).unwrap()
    }

    /// Waits until the controller has observed the Deployment's last change and the ReplicaSet
    /// of its revision runs `image` with change-cause `deploy IMAGE`: only then is the rollout
    /// history the tests read settled (a `broken` revision never becomes ready, so `rollout
    /// status` cannot be the wait).
    fn settled(&self, ns: &str, name: &str, image: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let cause = format!("deploy {image}");
        loop {
            let d = self.json(&["-n", ns, "get", "deployment", name, "-o", "json"]);
            if d["status"]["observedGeneration"].as_u64() >= d["metadata"]["generation"].as_u64() {
                let revision = &d["metadata"]["annotations"]["deployment.kubernetes.io/revision"];
                let rs = self.json(&["-n", ns, "get", "replicasets", "-o", "json"]);
                let there = rs["items"].as_array().into_iter().flatten().any(|rs| {
                    let m = &rs["metadata"];
                    m["ownerReferences"][0]["uid"] == d["metadata"]["uid"]
                        && m["annotations"]["deployment.kubernetes.io/revision"] == *revision
                        && m["annotations"]["kubernetes.io/change-cause"] == json!(cause)
                        && rs["spec"]["template"]["spec"]["containers"][0]["image"] == json!(image)
                });
                if there {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "deployment/{name} in {ns} did not settle on {image} within 60 s: {d}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Holds back the deployment controller in `ns`: a ReplicaSet count quota at what is there
    /// makes its next ReplicaSet creation fail, so a Deployment's next template change stays
    /// unobserved (`status.observedGeneration < metadata.generation`) until
    /// `release_replicasets`. No quota controller runs here, so the status it would write is
    /// written by hand.
    pub fn hold_replicasets(&self, ns: &str) {
        let n = self.json(&["-n", ns, "get", "replicasets", "-o", "json"])["items"]
            .as_array()
            .map_or(0, Vec::len)
            .to_string();
        self.apply(
            ns,
            &format!(
                "apiVersion: v1\nkind: ResourceQuota\nmetadata:\n  name: hold-replicasets\nspec:\n  hard:\n    count/replicasets.apps: \"{n}\"\n"
            ),
        );
        let status = json!({"status": {
            "hard": {"count/replicasets.apps": n},
            "used": {"count/replicasets.apps": n},
        }});
        self.kubectl(&[
            "-n",
            ns,
            "patch",
            "resourcequota",
            "hold-replicasets",
            "--subresource=status",
            "--type=merge",
            "-p",
            &status.to_string(),
        ]);
    }

    pub fn release_replicasets(&self, ns: &str) {
        self.kubectl(&["-n", ns, "delete", "resourcequota", "hold-replicasets"]);
    }

    /// Waits until the controller has tried and failed to create the ReplicaSet for the
    /// Deployment's last change (see `hold_replicasets`); returns (generation, observed), the
    /// first greater.
    pub fn unobserved(&self, ns: &str, name: &str) -> (u64, u64) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let d = self.json(&["-n", ns, "get", "deployment", name, "-o", "json"]);
            let failed = d["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["reason"] == "ReplicaSetCreateError");
            if failed {
                let generation = d["metadata"]["generation"].as_u64().unwrap();
                let observed = d["status"]["observedGeneration"].as_u64().unwrap_or(0);
                assert!(generation > observed, "the controller observed it: {d}");
                return (generation, observed);
            }
            assert!(
                Instant::now() < deadline,
                "the controller did not try to create a ReplicaSet for deployment/{name} in {ns} within 60 s: {d}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The image the Deployment's template names now.
    pub fn image(&self, ns: &str, name: &str) -> String {
        self.kubectl(&[
            "-n",
            ns,
            "get",
            "deployment",
            name,
            "-o",
            "jsonpath={.spec.template.spec.containers[0].image}",
        ])
    }

    /// Points the env at this cluster.
    pub fn configure(&self, env: &mut TestEnv) {
        env.set("KUBECONFIG", self.kubeconfig.display().to_string());
    }
}
