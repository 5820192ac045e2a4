//! One rollback per model across machines: each rollback writes its own lease tag on the
//! registered model (`rollback.lease.<event>`: holder, since, expiry), then reads the model back.
//! Seeing any other live lease, it backs off; so two engineers racing never both proceed (at
//! worst both back off and re-run). No one's lease is ever overwritten.

use std::borrow::Borrow;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::clock;
use crate::error::{CliError, ExitStatus};
use crate::registry::{RegisteredModel, Registry, tags};

/// How long a lease protects a rollback whose holder vanished (laptop died mid-rollback).
pub const TTL_MINUTES: i64 = 30;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LeaseTag {
    pub holder: String,
    #[serde(default)]
    pub host: String,
    #[serde(default)]
    pub pid: u32,
    pub since: DateTime<Utc>,
    pub expires: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub released: Option<DateTime<Utc>>,
}

impl LeaseTag {
    fn active(&self, now: DateTime<Utc>) -> bool {
        self.released.is_none() && self.expires > now
    }

    /// Held by a process of this machine that no longer runs: safe to take over.
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

/// The lease this process holds. Dropping it marks it released (the tag stays, as every
/// record does); a crash leaves it to expire, and `--resume` of the same event takes it back.
pub struct Lease<'r, R: Borrow<dyn Registry + 'r>> {
    /// A borrowed registry (`&dyn Registry`) or a shared one (`Arc<dyn Registry>`).
    reg: R,
    _registry: std::marker::PhantomData<&'r ()>,
    name: String,
    key: String,
    tag: LeaseTag,
}

/// Other events' live leases on the model.
fn others(model: &RegisteredModel, mine: &str, now: DateTime<Utc>) -> Vec<(String, LeaseTag)> {
    model
        .tags
        .iter()
        .filter(|(k, _)| k.starts_with(tags::LEASE_PREFIX) && k.as_str() != mine)
        .filter_map(|(k, v)| {
            Some((
                k[tags::LEASE_PREFIX.len()..].to_string(),
                serde_json::from_str::<LeaseTag>(v).ok()?,
            ))
        })
        .filter(|(_, t)| t.active(now))
        .collect()
}

/// Takes the lease for `event`, then checks with `fresh` (on the model as read back) that the
/// registry still is as the plan saw it. `force` takes over other live leases (abandoned ones).
pub fn acquire<'r, R: Borrow<dyn Registry + 'r>>(
    reg: R,
    name: &str,
    holder: &str,
    event: &str,
    force: bool,
    fresh: impl FnOnce(&RegisteredModel) -> Result<(), String>,
) -> anyhow::Result<Lease<'r, R>> {
    let now = clock::now();
    let lease = Lease {
        reg,
        _registry: std::marker::PhantomData,
        name: name.to_string(),
        key: format!("{}{event}", tags::LEASE_PREFIX),
        tag: LeaseTag {
            holder: holder.to_string(),
            host: hostname(),
            pid: std::process::id(),
            since: now,
            expires: now + chrono::Duration::minutes(TTL_MINUTES),
            released: None,
        },
    };
    let reg = lease.reg.borrow();
    reg.set_model_tag(name, &lease.key, &serde_json::to_string(&lease.tag)?)?;
    let model = reg.get_model(name)?;
    let rivals = others(&model, &lease.key, now);
    for (ev, other) in rivals.iter().filter(|(_, t)| t.abandoned_here()) {
        crate::printer::to_stderr(&format!(
            "warning: the lease of event {ev} ({} since {}) belongs to a process of this machine that is gone; taking over",
            other.holder,
            clock::fmt(other.since)
        ));
    }
    if let Some((ev, other)) = rivals.iter().find(|(_, t)| !t.abandoned_here()) {
        if !force {
            // Dropping `lease` marks ours released before the error is shown.
            return Err(CliError::new(
                ExitStatus::Refused,
                format!(
                    "`{name}` is being rolled back by {} on {} since {} (event {ev}, lease until {}); nothing was changed",
                    other.holder,
                    if other.host.is_empty() { "another machine" } else { other.host.as_str() },
                    clock::fmt(other.since),
                    clock::fmt(other.expires)
                ),
            )
            .with_hint("wait for it; if that rollback was abandoned, take over with --force-unlock")
            .into());
        }
        crate::printer::to_stderr(&format!(
            "warning: taking over from {} (event {ev}, since {}) with --force-unlock",
            other.holder,
            clock::fmt(other.since)
        ));
    }
    if let Err(why) = fresh(&model) {
        return Err(CliError::new(
            ExitStatus::Refused,
            format!("the registry changed since the plan was made ({why}); nothing was changed"),
        )
        .with_hint("run the command again to plan from the current state")
        .into());
    }
    Ok(lease)
}

impl<'r, R: Borrow<dyn Registry + 'r>> Drop for Lease<'r, R> {
    /// A failed release is reported, never fatal: the lease expires anyway.
    fn drop(&mut self) {
        self.tag.released = Some(clock::now());
        let r = serde_json::to_string(&self.tag)
            .map_err(|e| e.to_string())
            .and_then(|t| {
                self.reg
                    .borrow()
                    .set_model_tag(&self.name, &self.key, &t)
                    .map_err(|e| e.to_string())
            });
        if let Err(e) = r {
            crate::printer::to_stderr(&format!(
                "warning: could not release the lease on `{}` ({e}); it expires at {}",
                self.name,
                clock::fmt(self.tag.expires)
            ));
        }
    }
}
