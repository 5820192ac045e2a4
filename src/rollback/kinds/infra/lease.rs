//! One rollback of a Kubernetes object at a time, across machines: a lease in the object's
//! `mlrb.dev/lease` annotation (event, holder, host, expiry), written with a compare-and-swap on
//! the object's resourceVersion, so of two machines racing exactly one holds it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::clock;
use crate::error::{CliError, ExitStatus};
use crate::exec::ExecError;
use crate::exec::kubectl::{self, Kubectl};

pub const KEY: &str = "mlrb.dev/lease";

/// How many times a write that lost to another write of the object (often the controller's
/// status update) reads again and retries.
const TRIES: usize = 8;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Lease {
    pub event: String,
    pub holder: String,
    #[serde(default)]
    pub host: String,
    #[serde(default)]
    pub pid: u32,
    pub since: DateTime<Utc>,
    /// It counts for at most `crate::lease::TTL_MINUTES` after `since`, whatever it says.
    pub expires: DateTime<Utc>,
    /// On a Deployment, the revision it was written at: it holds only while the Deployment is
    /// at that revision. The deployment controller copies a Deployment's annotations to its
    /// ReplicaSet, and `kubectl rollout undo` copies a ReplicaSet's back, lease and all: such a
    /// copy comes back at a later revision, dead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<u64>,
}

/// How a lease found on an object stands.
#[derive(Debug, PartialEq)]
enum Standing {
    Live,
    Expired,
    /// Its process, on this machine, is gone (a crashed rollback).
    Abandoned,
    /// A copy brought back at another revision (see `Lease::revision`).
    Stale,
}

impl Lease {
    pub fn new(event: &str, holder: &str, revision: Option<u64>) -> Lease {
        let now = clock::now();
        Lease {
            event: event.to_string(),
            holder: holder.to_string(),
            host: hostname(),
            pid: std::process::id(),
            since: now,
            expires: now + chrono::Duration::minutes(crate::lease::TTL_MINUTES),
            revision,
        }
    }

    fn standing(&self, obj: &Value) -> Standing {
        if self.revision.is_some() && self.revision != kubectl::revision_of(obj) {
            Standing::Stale
        } else if self
            .expires
            .min(self.since + chrono::Duration::minutes(crate::lease::TTL_MINUTES))
            <= clock::now()
        {
            Standing::Expired
        } else if self.abandoned_here() {
            Standing::Abandoned
        } else {
            Standing::Live
        }
    }

    /// The lease in the object's annotations, if any (an unreadable one counts as none).
    pub fn on(obj: &Value) -> Option<Lease> {
        obj.pointer("/metadata/annotations")
            .and_then(|a| a.get(KEY))
            .and_then(Value::as_str)
            .and_then(|s| serde_json::from_str(s).ok())
    }

    pub fn json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Held by a process of this machine that no longer runs (a crashed rollback): free.
    fn abandoned_here(&self) -> bool {
        !self.host.is_empty()
            && self.host == hostname()
            && self.pid != 0
            && cfg!(target_os = "linux")
            && !std::path::Path::new(&format!("/proc/{}", self.pid)).exists()
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

/// Another rollback's live lease on the object: not `event`'s, not expired, not abandoned by a
/// process of this machine, not a stale copy.
pub fn foreign(obj: &Value, event: &str) -> Option<Lease> {
    Lease::on(obj).filter(|l| l.event != event && l.standing(obj) == Standing::Live)
}

/// The object a lease is on, as kubectl names it.
#[derive(Debug, Clone)]
pub struct Object {
    pub k: Kubectl,
    /// `deployment`, `service`, `virtualservices.networking.istio.io`, …
    pub resource: String,
    pub name: String,
    /// How mlrb shows it (`deployment/ms in namespace ml`).
    pub shown: String,
}

impl Object {
    /// The `kubectl patch --type=merge` line that shows a step writing `patch` on it.
    pub fn merge_patch_line(&self, patch: &Value) -> String {
        self.k
            .cmd([
                "patch".to_string(),
                self.resource.clone(),
                self.name.clone(),
                "--type=merge".into(),
                "-p".into(),
                patch.to_string(),
            ])
            .line()
    }

    /// The revision a lease written on it now holds for (a Deployment's, see `Lease::revision`).
    pub fn lease_revision(&self, obj: &Value) -> Option<u64> {
        (self.resource == "deployment")
            .then(|| kubectl::revision_of(obj))
            .flatten()
    }
}

/// What a compare-and-swap writes, given the object as read.
pub enum Write {
    Annotate(Vec<(&'static str, String)>),
    Remove(&'static str),
    /// A merge patch (with the resourceVersion as read added).
    Patch(Value),
    Nothing,
}

/// Why a compare-and-swap did not write.
#[derive(Debug)]
pub enum CasError {
    /// The decision refused, in these words.
    Refused(String),
    Exec(ExecError),
    /// Lost to other writes every time.
    Busy,
}

impl Object {
    pub fn read(&self) -> Result<Value, ExecError> {
        self.k.get_json(&self.resource, &self.name)
    }

    /// Reads the object, asks `decide` what to write, and writes it only if the object is still
    /// at the resourceVersion read; a conflict reads it again. Returns the object as last read.
    pub fn cas(
        &self,
        mut decide: impl FnMut(&Value) -> Result<Write, String>,
    ) -> Result<Value, CasError> {
        for _ in 0..TRIES {
            let obj = self.read().map_err(CasError::Exec)?;
            let rv = kubectl::resource_version(&obj).map(str::to_string);
            let cmd = match decide(&obj).map_err(CasError::Refused)? {
                Write::Nothing => return Ok(obj),
                Write::Annotate(set) => {
                    self.k
                        .annotate(&self.resource, &self.name, rv.as_deref(), &set, &[])
                }
                Write::Remove(key) => {
                    self.k
                        .annotate(&self.resource, &self.name, rv.as_deref(), &[], &[key])
                }
                Write::Patch(mut patch) => {
                    patch["metadata"]["resourceVersion"] = rv.clone().into();
                    self.k
                        .cmd([
                            "patch".to_string(),
                            self.resource.clone(),
                            self.name.clone(),
                            "--type=merge".into(),
                            "-p".into(),
                            patch.to_string(),
                        ])
                        .timeout(std::time::Duration::from_secs(60))
                }
            };
            match cmd.run() {
                Ok(_) => return Ok(obj),
                Err(e) if kubectl::is_conflict(&e) => continue,
                Err(e) => return Err(CasError::Exec(e)),
            }
        }
        Err(CasError::Busy)
    }
}

/// Says that another rollback holds the object.
pub fn held_by(shown: &str, l: &Lease) -> String {
    format!(
        "{shown} is being rolled back by {} on {} since {} (event {}, lease until {})",
        l.holder,
        if l.host.is_empty() {
            "another machine"
        } else {
            l.host.as_str()
        },
        clock::fmt(l.since),
        l.event,
        clock::fmt(l.expires)
    )
}

/// Takes the lease on `obj` for `event`: refused (exit 3) when another rollback holds it, or
/// when `still` says the object is no longer as the plan saw it. Written with a
/// compare-and-swap, so of two machines racing exactly one gets it. `event` may take back its
/// own lease (a resumed rollback).
pub fn claim(
    obj: &Object,
    event: &str,
    holder: &str,
    still: &dyn Fn(&Value) -> Result<(), String>,
) -> anyhow::Result<Held> {
    let mut changed = None;
    let r = obj.cas(|o| {
        if let Some(l) = foreign(o, event) {
            return Err(format!("{}; nothing was changed", held_by(&obj.shown, &l)));
        }
        if let Err(why) = still(o) {
            changed = Some(why.clone());
            return Err(why);
        }
        if let Some(l) = Lease::on(o).filter(|l| l.event != event) {
            let why = match l.standing(o) {
                Standing::Expired => "it expired",
                Standing::Abandoned => "its process on this machine is gone",
                _ => "",
            };
            if !why.is_empty() {
                crate::printer::to_stderr(&format!(
                    "warning: taking over the lease of event {} ({} on {} since {}): {why}",
                    l.event,
                    l.holder,
                    l.host,
                    clock::fmt(l.since),
                ));
            }
        }
        let lease = Lease::new(event, holder, obj.lease_revision(o));
        Ok(Write::Annotate(vec![(KEY, lease.json())]))
    });
    let shown = &obj.shown;
    let remove = obj
        .k
        .annotate(&obj.resource, &obj.name, None, &[], &[KEY])
        .line();
    match r {
        Ok(_) => Ok(Held {
            obj: obj.clone(),
            event: event.to_string(),
        }),
        Err(CasError::Refused(why)) => Err(match changed {
            Some(_) => CliError::new(
                ExitStatus::Refused,
                format!("{shown} changed since the plan was made ({why}); nothing was changed"),
            )
            .with_hint("run the command again to plan from what it is now"),
            None => CliError::new(ExitStatus::Refused, why).with_hint(format!(
                "wait for that rollback to finish; if it was abandoned, its lease expires at the time shown, or `{remove}` removes it"
            )),
        }
        .into()),
        Err(CasError::Exec(e)) => {
            let (msg, hint) = kubectl::explain(&e, shown);
            let mut err = CliError::new(
                ExitStatus::Failure,
                format!("cannot write the lease on {shown}: {msg}; nothing was changed"),
            );
            if let Some(h) = hint {
                err = err.with_hint(h);
            }
            Err(err.into())
        }
        Err(CasError::Busy) => Err(CliError::new(
            ExitStatus::Failure,
            format!(
                "cannot write the lease on {shown}: it was written by someone else {TRIES} times in a row; nothing was changed"
            ),
        )
        .with_hint("run the command again")
        .into()),
    }
}

/// A lease this process holds; dropping it removes it from the object (if it is still this
/// event's). A crash leaves it to expire, and `--resume` of the same event takes it back.
pub struct Held {
    obj: Object,
    event: String,
}

impl Drop for Held {
    /// A failed release is reported, never fatal: the lease expires anyway.
    fn drop(&mut self) {
        let event = self.event.clone();
        let r = self.obj.cas(|o| {
            Ok(match Lease::on(o) {
                Some(l) if l.event == event => Write::Remove(KEY),
                _ => Write::Nothing,
            })
        });
        if let Err(e) = r {
            crate::printer::to_stderr(&format!(
                "warning: could not release the lease on {} ({}); it expires by itself",
                self.obj.shown,
                match e {
                    CasError::Exec(e) => e.to_string(),
                    CasError::Busy => "the object kept changing".into(),
                    CasError::Refused(w) => w,
                }
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment(revision: u64, lease: &Lease) -> Value {
        json!({"metadata": {"annotations": {
            "deployment.kubernetes.io/revision": revision.to_string(),
            KEY: lease.json(),
        }}})
    }

    #[test]
    fn a_lease_on_a_deployment_holds_only_at_its_revision() {
        let l = Lease {
            host: "elsewhere".into(),
            ..Lease::new("rollback-a", "alice", Some(3))
        };
        assert_eq!(foreign(&deployment(3, &l), "rollback-b"), Some(l.clone()));
        assert_eq!(foreign(&deployment(3, &l), "rollback-a"), None, "its own");
        // Copied back by an undo (the controller copies annotations to the ReplicaSet).
        assert_eq!(foreign(&deployment(5, &l), "rollback-b"), None);
        let anywhere = Lease {
            revision: None,
            ..l
        };
        assert!(foreign(&deployment(5, &anywhere), "rollback-b").is_some());
    }

    #[test]
    fn a_lease_counts_for_at_most_the_ttl_whatever_it_claims() {
        let mut l = Lease {
            host: "elsewhere".into(),
            ..Lease::new("rollback-a", "alice", None)
        };
        l.expires = l.since + chrono::Duration::days(365);
        assert!(foreign(&deployment(1, &l), "rollback-b").is_some());
        l.since -= chrono::Duration::minutes(crate::lease::TTL_MINUTES + 1);
        assert_eq!(foreign(&deployment(1, &l), "rollback-b"), None);
    }

    #[test]
    fn an_unreadable_lease_is_none() {
        let o = json!({"metadata": {"annotations": {KEY: "not json"}}});
        assert_eq!(Lease::on(&o), None);
    }
}
