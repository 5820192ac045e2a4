//! The container image deploy/image/build.sh makes: built with the real podman (into a private
//! image store), then run from the image's own filesystem. `podman run` needs a container
//! runtime this test machine lacks, so the test mounts the image (`podman image mount`), copies
//! its files into a temp dir (the mount is read-only) and runs the binary there under `chroot`,
//! as the image's user, with nothing from the host: the image's libraries, CA bundle and files.

use std::os::unix::fs::{PermissionsExt, chown};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::prometheus::{model_config, prom};
use crate::common::{Backend, FileBackend, bad_release, repo_root, unique};

/// The image's user and group (the manifest's runAsUser).
const UID: u32 = 65532;

fn require_podman() {
    if which::which("podman").is_ok() {
        return;
    }
    eprintln!("podman is missing; installing it with tests/env/setup.sh podman");
    let ok = Command::new(repo_root().join("tests/env/setup.sh"))
        .arg("podman")
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        ok,
        "podman is required: run `tests/env/setup.sh podman` (apt-get install podman)"
    );
}

/// A podman image store of the test's own: nothing touches the machine's images.
struct Store {
    dir: tempfile::TempDir,
}

impl Store {
    fn new() -> Store {
        require_podman();
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display();
        std::fs::write(
            dir.path().join("storage.conf"),
            format!("[storage]\ndriver = \"overlay\"\ngraphroot = \"{d}/graph\"\nrunroot = \"{d}/run\"\n"),
        )
        .unwrap();
        Store { dir }
    }

    fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        // As from a shell: without what cargo sets for a test process. CARGO_MANIFEST_DIR alone
        // makes ring's build script, and everything above it, rebuild in release.
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy();
            if (k == "CARGO" || k.starts_with("CARGO_") || k == "LD_LIBRARY_PATH")
                && k != "CARGO_HOME"
                && k != "CARGO_TARGET_DIR"
            {
                c.env_remove(k.as_ref());
            }
        }
        c.env(
            "CONTAINERS_STORAGE_CONF",
            self.dir.path().join("storage.conf"),
        );
        c
    }

    fn podman(&self, args: &[&str]) -> String {
        let o = self.command("podman").args(args).output().unwrap();
        assert!(
            o.status.success(),
            "podman {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    }

    /// Runs deploy/image/build.sh with `args`; returns the tag it printed last.
    fn build(&self, args: &[&str]) -> String {
        let o = self
            .command(repo_root().join("deploy/image/build.sh").to_str().unwrap())
            .args(args)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success(),
            "deploy/image/build.sh {args:?} failed:\n{stdout}{}",
            String::from_utf8_lossy(&o.stderr)
        );
        stdout.lines().last().unwrap_or_default().to_string()
    }

    /// A writable copy of the image's filesystem.
    fn unpack(&self, tag: &str, into: &Path) {
        let mnt = self.podman(&["image", "mount", tag]);
        let cp = Command::new("cp")
            .args(["-a", &format!("{mnt}/."), into.to_str().unwrap()])
            .status()
            .unwrap();
        self.podman(&["image", "umount", tag]);
        assert!(cp.success(), "cp -a {mnt}");
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        // Unmounts and removes the image layers; the temp dir goes with them.
        let _ = self.command("podman").args(["rmi", "-af"]).output();
    }
}

/// An unpacked image: its files and the environment its config sets.
struct Unpacked {
    root: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Unpacked {
    fn new(store: &Store, tag: &str) -> Unpacked {
        let root = tempfile::tempdir().unwrap();
        store.unpack(tag, root.path());
        let env: Vec<String> = serde_json::from_str(&store.podman(&[
            "image",
            "inspect",
            "--format",
            "{{json .Config.Env}}",
            tag,
        ]))
        .unwrap();
        let env = env
            .iter()
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Unpacked { root, env }
    }

    fn path(&self) -> &Path {
        self.root.path()
    }

    /// `chroot` into the image as its user, with the image's environment and `env` only.
    fn run(&self, env: &[(&str, &str)], args: &[&str]) -> (i32, String, String) {
        in_image(self.path(), &self.env, env, args)
    }
}

/// `chroot ROOT` as the image's user, with only `image_env` and `env`: the (exit code, stdout,
/// stderr).
fn in_image(
    root: &Path,
    image_env: &[(String, String)],
    env: &[(&str, &str)],
    args: &[&str],
) -> (i32, String, String) {
    let o = Command::new(which::which("chroot").expect("chroot (coreutils) is required"))
        .env_clear()
        .envs(image_env.iter().map(|(k, v)| (k, v)))
        .envs(env.iter().copied())
        .arg(format!("--userspec={UID}:{UID}"))
        .arg(root)
        .args(args)
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Every `image:` in a manifest.
fn manifest_images(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter_map(|l| l.trim().strip_prefix("image:"))
        .map(|i| i.trim().trim_matches('"').to_string())
        .collect()
}

fn files_under(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() && !p.is_symlink() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(root).unwrap().to_path_buf());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn the_image_builds_offline_and_runs_demo_and_watch_from_its_own_filesystem() {
    let t0 = std::time::Instant::now();
    let store = Store::new();
    let tag = store.build(&[]);
    eprintln!("image {tag} built in {:.1} s", t0.elapsed().as_secs_f64());
    assert_eq!(
        tag,
        format!("ghcr.io/example/mlrb:{}", env!("CARGO_PKG_VERSION"))
    );
    let size: u64 = store
        .podman(&["image", "inspect", "--format", "{{.Size}}", &tag])
        .parse()
        .unwrap();
    eprintln!("image {tag}: {size} bytes");
    assert!(
        (5_000_000..20_000_000).contains(&size),
        "about 15 MB without kubectl, got {size} bytes"
    );
    assert_eq!(
        store.podman(&["image", "inspect", "--format", "{{.Config.User}}", &tag]),
        format!("{UID}:{UID}")
    );

    let image = Unpacked::new(&store, &tag);
    let root = image.path();
    // From scratch: the binary, its libraries, the CA bundle and three small files; no shell.
    let files = files_under(root);
    let names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    assert!(
        names.contains(&"usr/local/bin/mlrb".to_string())
            && names.contains(&"etc/ssl/certs/ca-certificates.crt".to_string())
            && names
                .iter()
                .any(|n| n.starts_with("lib") && n.contains("libc.so")),
        "{names:#?}"
    );
    assert!(
        !names
            .iter()
            .any(|n| n.ends_with("bin/sh") || n.contains("kubectl")),
        "{names:#?}"
    );
    assert!(files.len() <= 12, "{names:#?}");

    let (code, out, err) = image.run(&[], &["mlrb", "--version"]);
    assert_eq!(
        (code, out.trim()),
        (0, format!("mlrb {}", env!("CARGO_PKG_VERSION")).as_str()),
        "{err}"
    );

    // The demo writes a registry and journal in /tmp and rolls back for real.
    let (code, out, err) = image.run(&[], &["mlrb", "demo"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        err.contains("rolled back recsys: v4, v2 → v3 — registry verified"),
        "{err}"
    );
    assert!(
        out.contains("# Incident Report: Model Rollback - recsys"),
        "{out}"
    );

    // watch --once against the test Prometheus (same network namespace as the chroot), with a
    // registry and config placed in the image's filesystem and readable by its user.
    let p = prom();
    let work = root.join("work");
    std::fs::create_dir(&work).unwrap();
    let b = FileBackend {
        path: work.join("registry.json"),
    };
    mlrb::registry::file::FileRegistry::create(&b.path).unwrap();
    let m = unique("image");
    b.seed(&m, &bad_release(), &[]);
    let toml = model_config(
        &p.url,
        &m,
        &["error_rate", "prediction_diversity"],
        &format!(
            "[models.\"{m}\".baseline]\nerror_rate = 0.01\nprediction_diversity = 0.73\n\
             [models.\"{m}\".controller]\ncheck_interval = \"1s\"\n"
        ),
    );
    std::fs::write(work.join("mlrb.toml"), toml).unwrap();
    // The registry file and its lock file, the config and their directory: the image's user's.
    chown(&work, Some(UID), Some(UID)).unwrap();
    for f in files_under(&work) {
        chown(work.join(f), Some(UID), Some(UID)).unwrap();
    }
    let env = [
        ("MLRB_CONFIG", "/work/mlrb.toml"),
        ("MLRB_REGISTRY", "/work/registry.json"),
    ];
    p.set(&m, "prediction_diversity", 0.73);
    p.put(&m, "error_rate", 0.01);
    p.wait_for(&m, "prediction_diversity", 0.73);
    let (code, out, err) = image.run(&env, &["mlrb", "watch", &m, "--once"]);
    assert_eq!(code, 0, "healthy: {out}\n{err}");
    p.put(&m, "error_rate", 0.08);
    let (code, out, err) = image.run(&env, &["mlrb", "watch", &m, "--once"]);
    assert_eq!(code, 11, "breached: {out}\n{err}");
    assert!(
        err.contains("ROLLBACK NOW: Error rate 8.0% exceeds threshold 5.0%"),
        "{err}"
    );

    // The rollback itself, with the home directory as a Kubernetes volume with fsGroup leaves
    // it (root-owned, group 65532, group-writable, setgid): the image's MLRB_STATE_DIR is a
    // directory of mlrb's own inside it, so the journal is kept (and not refused).
    let home = root.join("var/lib/mlrb");
    chown(&home, Some(0), Some(UID)).unwrap();
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o2775)).unwrap();
    let (code, out, err) = image.run(
        &env,
        &["mlrb", "rollback", "model", &m, "--yes", "--no-verify"],
    );
    assert_eq!(code, 0, "rollback: {out}\n{err}");
    let state = home.join("state");
    // (setgid comes from the volume root, as under fsGroup; nobody else may write.)
    assert_eq!(
        std::fs::metadata(&state).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let journal = std::fs::read_to_string(state.join("journal.jsonl")).unwrap();
    assert!(journal.contains(&m), "{journal}");
}

/// The -kubectl variant adds a kubectl the image's user can run, for the kubectl-based kinds.
#[test]
fn the_kubectl_variant_carries_a_working_kubectl() {
    let kubectl = which::which("kubectl").expect(
        "kubectl is required: install it (https://kubernetes.io/docs/tasks/tools/ or apt-get install kubernetes-client)",
    );
    let store = Store::new();
    let tag = store.build(&["--kubectl", kubectl.to_str().unwrap()]);
    assert_eq!(
        tag,
        format!("ghcr.io/example/mlrb:{}-kubectl", env!("CARGO_PKG_VERSION"))
    );
    // The manifest runs the image the script tags: this one, since leader election uses kubectl.
    let manifest = repo_root().join("deploy/mlrb-watch.yaml");
    let images = manifest_images(&manifest);
    assert!(
        !images.is_empty() && images.iter().all(|i| *i == tag),
        "deploy/mlrb-watch.yaml runs {images:?}, build.sh tags {tag}"
    );
    let image = Unpacked::new(&store, &tag);
    let (code, out, err) = image.run(&[], &["kubectl", "version", "--client"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("Client Version: v1."), "{out}");
    let (code, out, err) = image.run(&[], &["mlrb", "--version"]);
    assert_eq!(code, 0, "{out}\n{err}");
}

/// Bad input to the build script: one clear line, non-zero exit, no image.
#[test]
fn the_build_script_refuses_a_missing_kubectl_in_one_line() {
    let store = Store::new();
    let o = store
        .command(repo_root().join("deploy/image/build.sh").to_str().unwrap())
        .args(["--kubectl", "/nonexistent/kubectl", "--binary", "/bin/true"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(
        err.trim(),
        "build.sh: --kubectl /nonexistent/kubectl is not an executable"
    );
    assert_eq!(store.podman(&["images", "-q"]), "");
}
