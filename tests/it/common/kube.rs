//! A real Kubernetes control plane (etcd + kube-apiserver + kube-controller-manager v1.20.2 from
//! the cache tests/env/setup.sh kube fills) with the fake kubelet, started once per test binary
//! on a free port; every daemon runs under with-parent.sh, so it dies with the test process.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

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
        k.kubectl(&[
            "wait",
            "--for=condition=established",
            "--timeout=60s",
            "crd/virtualservices.networking.istio.io",
            "crd/rollouts.argoproj.io",
        ]);
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

    /// Deployment `name` in `ns` rolled out through `images` in order (one revision each);
    /// waits for every revision except a `broken` one.
    pub fn deployment(&self, ns: &str, name: &str, images: &[&str]) {
        for (i, image) in images.iter().enumerate() {
            if i == 0 {
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
