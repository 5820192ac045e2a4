//! Leader election on a Kubernetes Lease (coordination.k8s.io/v1), as client-go's
//! leaderelection does it: a replica takes the lease when its holder has not renewed it for
//! `leaseDurationSeconds` (timed by this replica's own clock from when it saw the record
//! change, so clocks need not agree), the leader renews it every retry period with a
//! compare-and-swap on `resourceVersion`, and a leader that has not renewed for the renew
//! deadline (shorter than the lease duration) stops acting before anyone can take over.
//! The API is reached through kubectl, which reads KUBECONFIG or the in-cluster credentials.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::error::CliError;
use crate::exec::kubectl::{Kubectl, is_conflict};
use crate::exec::runner::ExecError;

/// Where the namespace of the pod's service account is mounted.
pub const NAMESPACE_FILE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

#[derive(Debug, Clone)]
pub struct LeaseConfig {
    pub name: String,
    pub namespace: String,
    pub identity: String,
    pub lease_duration: Duration,
    pub renew_deadline: Duration,
    pub retry_period: Duration,
}

impl LeaseConfig {
    /// client-go's rules: the renew deadline is shorter than the lease, and leaves room for
    /// more than one retry.
    pub fn check(&self) -> Result<(), CliError> {
        if self.renew_deadline >= self.lease_duration {
            return Err(CliError::usage(format!(
                "--renew-deadline ({}) must be shorter than --lease-duration ({}): a leader must stop acting before its lease can expire",
                humantime::format_duration(self.renew_deadline),
                humantime::format_duration(self.lease_duration)
            )));
        }
        if self.renew_deadline.as_secs_f64() <= 1.2 * self.retry_period.as_secs_f64() {
            return Err(CliError::usage(format!(
                "--renew-deadline ({}) must be longer than 1.2 × --retry-period ({})",
                humantime::format_duration(self.renew_deadline),
                humantime::format_duration(self.retry_period)
            )));
        }
        if self.lease_duration.as_secs() < 1 || self.lease_duration.subsec_nanos() != 0 {
            return Err(CliError::usage(
                "--lease-duration must be a whole number of seconds (the Lease stores seconds)",
            ));
        }
        Ok(())
    }
}

/// kubectl on PATH, which the election talks to the API server through.
pub fn require_kubectl() -> Result<(), CliError> {
    Kubectl::default()
        .cmd(["version"])
        .resolve()
        .map(|_| ())
        .map_err(|e| CliError::usage(format!("--leader-elect needs kubectl: {e}")))
}

/// The namespace of the lease when none is given: the pod's own, else "default".
pub fn default_namespace() -> String {
    std::fs::read_to_string(NAMESPACE_FILE)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "default".into())
}

/// This replica's identity in the lease: the host (the pod's name in Kubernetes) and the pid.
pub fn identity() -> String {
    let host = crate::lease::hostname();
    let host = if host.is_empty() {
        "mlrb-watch".into()
    } else {
        host
    };
    format!("{host}_{}", std::process::id())
}

/// A line for the controller's log: (level, event, message).
pub type LogFn = Box<dyn Fn(&str, &str, &str) + Send>;

struct Shared {
    /// When the last successful acquire or renew was *attempted*: leadership lasts the renew
    /// deadline from there, counted before the request went out so it never overstates.
    renewed: Mutex<Option<Instant>>,
    renew_deadline: Duration,
}

impl Shared {
    fn leading(&self) -> bool {
        self.renewed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some_and(|t| t.elapsed() < self.renew_deadline)
    }
}

/// The election running in its own thread; `leading()` is safe to ask at any moment.
pub struct Elector {
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Elector {
    /// Starts campaigning for `cfg`'s lease. Fails only when kubectl cannot run at all.
    pub fn start(cfg: LeaseConfig, log: LogFn) -> Result<Elector, CliError> {
        cfg.check()?;
        let kubectl = Kubectl {
            context: None,
            namespace: Some(cfg.namespace.clone()),
        };
        require_kubectl()?;
        let shared = Arc::new(Shared {
            renewed: Mutex::new(None),
            renew_deadline: cfg.renew_deadline,
        });
        let stop = Arc::new(AtomicBool::new(false));
        let (sh, st) = (shared.clone(), stop.clone());
        let thread = std::thread::spawn(move || campaign(&cfg, &kubectl, &sh, &st, &log));
        Ok(Elector {
            shared,
            stop,
            thread: Some(thread),
        })
    }

    pub fn leading(&self) -> bool {
        self.shared.leading()
    }

    /// Stops campaigning; a leader gives the lease up so a standby takes over at once.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The record as last seen, and when this replica saw it change.
#[derive(Default)]
struct Observed {
    spec: Option<Value>,
    at: Option<Instant>,
}

fn campaign(cfg: &LeaseConfig, k: &Kubectl, sh: &Shared, stop: &AtomicBool, log: &LogFn) {
    let mut obs = Observed::default();
    let mut leading = false;
    let mut failing: Option<String> = None;
    let mut holder_seen = String::new();
    let what = format!("lease {}/{}", cfg.namespace, cfg.name);
    while !stop.load(Ordering::Relaxed) {
        let attempt = Instant::now();
        match try_acquire_or_renew(cfg, k, &mut obs) {
            Ok(Attempt::Leading) => {
                *sh.renewed.lock().unwrap_or_else(|e| e.into_inner()) = Some(attempt);
                if failing.take().is_some() && leading {
                    log("info", "lease_renewed", &format!("{what} renewed again"));
                }
                if !leading {
                    leading = true;
                    log(
                        "info",
                        "leader_elected",
                        &format!(
                            "became the leader ({what}, identity {}): checking and acting",
                            cfg.identity
                        ),
                    );
                }
            }
            Ok(Attempt::HeldBy(holder)) => {
                failing = None;
                if leading {
                    leading = false;
                    *sh.renewed.lock().unwrap_or_else(|e| e.into_inner()) = None;
                    log(
                        "warn",
                        "leader_lost",
                        &format!("{what} is held by {holder} now: stopped checking and acting"),
                    );
                } else if holder != holder_seen {
                    log(
                        "info",
                        "standby",
                        &format!("standing by: {what} is held by {holder}"),
                    );
                }
                holder_seen = holder;
            }
            Err(e) => {
                let msg = e.to_string();
                if failing.as_deref() != Some(msg.as_str()) {
                    log(
                        "warn",
                        "lease_error",
                        &format!("cannot reach {what}: {msg}"),
                    );
                    failing = Some(msg);
                }
            }
        }
        if leading && !sh.leading() {
            leading = false;
            log(
                "error",
                "leader_lost",
                &format!(
                    "could not renew {what} within the renew deadline ({}): stopped checking and acting; another replica takes over when the lease expires",
                    humantime::format_duration(cfg.renew_deadline)
                ),
            );
        }
        // A standby retries a little later than the period, as client-go jitters (× 1.0–1.2),
        // so replicas that start together do not collide every time.
        let wait = if leading {
            cfg.retry_period
        } else {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
            cfg.retry_period
                .mul_f64(1.0 + 0.2 * f64::from(nanos % 1000) / 1000.0)
        };
        let until = attempt + wait;
        while !stop.load(Ordering::Relaxed) && Instant::now() < until {
            std::thread::sleep((until - Instant::now()).min(Duration::from_millis(50)));
        }
    }
    if sh.leading() {
        *sh.renewed.lock().unwrap_or_else(|e| e.into_inner()) = None;
        match release(cfg, k) {
            Ok(()) => log("info", "leader_released", &format!("released {what}")),
            Err(e) => log(
                "warn",
                "lease_error",
                &format!("could not release {what}: {e}"),
            ),
        }
    }
}

enum Attempt {
    Leading,
    HeldBy(String),
}

fn micro_time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

fn not_found(e: &ExecError) -> bool {
    let err = e.stderr();
    err.contains("NotFound") || err.contains("not found")
}

fn run_json(k: &Kubectl, cfg: &LeaseConfig, args: &[&str]) -> Result<Value, ExecError> {
    run_json_with(k, cfg, args, None)
}

/// `run_json`, with `input` on kubectl's stdin.
fn run_json_with(
    k: &Kubectl,
    cfg: &LeaseConfig,
    args: &[&str],
    input: Option<Vec<u8>>,
) -> Result<Value, ExecError> {
    let secs = cfg.renew_deadline.as_secs().max(1);
    let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    all.push(format!("--request-timeout={secs}s"));
    all.extend(["-o".into(), "json".into()]);
    let mut cmd = k.cmd(all).timeout(cfg.renew_deadline);
    if let Some(bytes) = input {
        cmd = cmd.input(bytes);
    }
    let out = cmd.run()?;
    serde_json::from_str(&out.stdout).map_err(|e| ExecError::Spawn {
        cmdline: cmd.line(),
        detail: format!("not JSON: {e}"),
    })
}

/// `kubectl create|replace -f -` of `obj` (on stdin, so nothing is left on disk if this replica
/// is killed mid-write): replace sends the resourceVersion read, so the API server refuses it
/// (409) when another replica wrote the lease since.
fn write(k: &Kubectl, cfg: &LeaseConfig, verb: &str, obj: &Value) -> Result<Value, ExecError> {
    run_json_with(
        k,
        cfg,
        &[verb, "-f", "-"],
        Some(obj.to_string().into_bytes()),
    )
}

fn try_acquire_or_renew(
    cfg: &LeaseConfig,
    k: &Kubectl,
    obs: &mut Observed,
) -> Result<Attempt, ExecError> {
    let now = chrono::Utc::now();
    let current = match run_json(k, cfg, &["get", "lease", &cfg.name]) {
        Ok(v) => v,
        Err(e) if not_found(&e) => {
            let spec = json!({
                "holderIdentity": cfg.identity,
                "leaseDurationSeconds": cfg.lease_duration.as_secs(),
                "acquireTime": micro_time(now),
                "renewTime": micro_time(now),
                "leaseTransitions": 0,
            });
            let lease = json!({
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": cfg.name, "namespace": cfg.namespace},
                "spec": spec,
            });
            return match write(k, cfg, "create", &lease) {
                Ok(_) => {
                    obs.spec = Some(spec);
                    obs.at = Some(Instant::now());
                    Ok(Attempt::Leading)
                }
                Err(e) if e.stderr().contains("AlreadyExists") => Ok(Attempt::HeldBy(
                    "another replica (it was created just now)".into(),
                )),
                Err(e) => Err(e),
            };
        }
        Err(e) => return Err(e),
    };
    let spec = current.get("spec").cloned().unwrap_or_else(|| json!({}));
    if obs.spec.as_ref() != Some(&spec) {
        obs.spec = Some(spec.clone());
        obs.at = Some(Instant::now());
    }
    let holder = spec["holderIdentity"].as_str().unwrap_or("").to_string();
    let duration = Duration::from_secs(spec["leaseDurationSeconds"].as_u64().unwrap_or(0));
    let held_by_other = !holder.is_empty() && holder != cfg.identity;
    if held_by_other && obs.at.is_some_and(|at| at.elapsed() < duration) {
        return Ok(Attempt::HeldBy(holder));
    }
    let mut new = spec.clone();
    if holder != cfg.identity {
        new["acquireTime"] = json!(micro_time(now));
        new["leaseTransitions"] = json!(spec["leaseTransitions"].as_u64().unwrap_or(0) + 1);
    }
    new["holderIdentity"] = json!(cfg.identity);
    new["leaseDurationSeconds"] = json!(cfg.lease_duration.as_secs());
    new["renewTime"] = json!(micro_time(now));
    let mut obj = current;
    obj["spec"] = new.clone();
    match write(k, cfg, "replace", &obj) {
        Ok(_) => {
            obs.spec = Some(new);
            obs.at = Some(Instant::now());
            Ok(Attempt::Leading)
        }
        Err(e) if is_conflict(&e) => Ok(Attempt::HeldBy(
            "another replica (it wrote the lease first)".into(),
        )),
        Err(e) => Err(e),
    }
}

/// Gives the lease up (holder cleared, 1 s duration) if this replica still holds it.
fn release(cfg: &LeaseConfig, k: &Kubectl) -> Result<(), ExecError> {
    let mut obj = run_json(k, cfg, &["get", "lease", &cfg.name])?;
    if obj["spec"]["holderIdentity"].as_str() != Some(cfg.identity.as_str()) {
        return Ok(());
    }
    let now = micro_time(chrono::Utc::now());
    let transitions = obj["spec"]["leaseTransitions"].clone();
    obj["spec"] = json!({
        "leaseDurationSeconds": 1,
        "acquireTime": now,
        "renewTime": now,
        "leaseTransitions": transitions,
    });
    write(k, cfg, "replace", &obj).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(lease: u64, renew: u64, retry: u64) -> LeaseConfig {
        LeaseConfig {
            name: "mlrb-watch".into(),
            namespace: "default".into(),
            identity: "a_1".into(),
            lease_duration: Duration::from_secs(lease),
            renew_deadline: Duration::from_secs(renew),
            retry_period: Duration::from_secs(retry),
        }
    }

    #[test]
    fn a_leader_must_stop_before_its_lease_can_expire() {
        assert!(cfg(15, 10, 2).check().is_ok());
        let e = cfg(10, 10, 2).check().unwrap_err();
        assert!(
            e.message.contains("must be shorter than --lease-duration"),
            "{}",
            e.message
        );
        assert!(cfg(15, 2, 2).check().is_err());
    }

    #[test]
    fn times_are_micro_times() {
        let t = chrono::DateTime::from_timestamp(1_700_000_000, 123_456_000).unwrap();
        assert_eq!(micro_time(t), "2023-11-14T22:13:20.123456Z");
    }
}
