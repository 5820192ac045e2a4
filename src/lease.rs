//! One rollback per model across machines. MLflow has no compare-and-swap, so the rule is
//! Lamport's bakery over registered-model tags (`rollback.lease.<event>`): a rollback first
//! marks its lease "choosing", reads every live lease, takes a number one above the highest,
//! writes it, waits until no rival is still choosing, and proceeds only if its (number, event)
//! sorts first; every other one withdraws its own lease and says who is rolling back. A rival
//! that read the leases after ours was numbered takes a higher number, and one that read them
//! while ours was choosing waits to see our number, so two never both proceed; the lease that
//! sorts first never withdraws, so two never both back off. No one's lease is ever overwritten;
//! a lease is removed only by its own rollback (released or withdrawn) or when it is taken over.

use std::borrow::Borrow;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::clock;
use crate::error::{CliError, ExitStatus};
use crate::registry::{RegisteredModel, Registry, tags};

/// How long a lease protects a rollback whose holder vanished (laptop died mid-rollback).
/// It is also the longest a lease counts, whatever expiry it claims: a forged lease
/// "until 9999" stops nothing for more than this after its `since`.
pub const TTL_MINUTES: i64 = 30;

/// How long a rollback waits for a rival that is still taking its number.
const CHOOSING_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

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
    /// Still taking its number (the bakery's doorway).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub choosing: bool,
    /// Its place in line; 0 in a lease written before numbers existed, which comes first.
    #[serde(default)]
    pub number: u64,
}

impl LeaseTag {
    fn active(&self, now: DateTime<Utc>) -> bool {
        let cap = self.since + chrono::Duration::minutes(TTL_MINUTES);
        self.released.is_none() && self.expires.min(cap) > now
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
    /// Whether our tag was written (and so must be removed).
    held: bool,
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

/// Takes the lease for `event` by the bakery rule (see the module), then checks with `fresh`
/// (on the model as read back) that the registry still is as the plan saw it. `force` takes
/// over other live leases (abandoned ones).
pub fn acquire<'r, R: Borrow<dyn Registry + 'r>>(
    reg: R,
    name: &str,
    holder: &str,
    event: &str,
    force: bool,
    fresh: impl FnOnce(&RegisteredModel) -> Result<(), String>,
) -> anyhow::Result<Lease<'r, R>> {
    let now = clock::now();
    let mut lease = Lease {
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
            choosing: true,
            number: 0,
        },
        held: false,
    };
    // The doorway: mark ours as choosing, read the line, take the next number.
    lease.write()?;
    lease.held = true;
    let model = lease.reg.borrow().get_model(name)?;
    let seen = others(&model, &lease.key, clock::now());
    lease.tag.number = 1 + seen.iter().map(|(_, t)| t.number).max().unwrap_or(0);
    lease.tag.choosing = false;
    lease.write()?;
    // Wait for rivals still in the doorway, then the lowest (number, event) goes first.
    let deadline = std::time::Instant::now() + CHOOSING_WAIT;
    let model = loop {
        let model = lease.reg.borrow().get_model(name)?;
        let choosing = others(&model, &lease.key, clock::now())
            .iter()
            .any(|(_, t)| t.choosing && !t.abandoned_here());
        if !choosing || std::time::Instant::now() >= deadline {
            break model;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let rivals = others(&model, &lease.key, clock::now());
    let reg = lease.reg.borrow();
    for (ev, other) in rivals.iter().filter(|(_, t)| t.abandoned_here()) {
        crate::printer::to_stderr(&format!(
            "warning: the lease of event {ev} ({} since {}) belongs to a process of this machine that is gone; taking over",
            other.holder,
            clock::fmt(other.since)
        ));
        let _ = reg.remove_lease_tag(name, &format!("{}{ev}", tags::LEASE_PREFIX));
    }
    let mine = (lease.tag.number, event.to_string());
    let ahead = rivals
        .iter()
        .filter(|(_, t)| !t.abandoned_here())
        .find(|(ev, t)| t.choosing || (t.number, ev.clone()) < mine);
    if let Some((ev, other)) = ahead {
        if !force {
            // Dropping `lease` withdraws ours before the error is shown.
            return Err(CliError::new(
                ExitStatus::Refused,
                format!(
                    "`{name}` is being rolled back by {} on {} since {} (event {ev}, lease until {}); nothing was changed",
                    other.holder,
                    if other.host.is_empty() { "another machine" } else { other.host.as_str() },
                    clock::fmt(other.since),
                    clock::fmt(other.expires.min(other.since + chrono::Duration::minutes(TTL_MINUTES)))
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

impl<'r, R: Borrow<dyn Registry + 'r>> Lease<'r, R> {
    fn write(&self) -> anyhow::Result<()> {
        self.reg.borrow().set_model_tag(
            &self.name,
            &self.key,
            &serde_json::to_string(&self.tag)?,
        )?;
        Ok(())
    }
}

impl<'r, R: Borrow<dyn Registry + 'r>> Drop for Lease<'r, R> {
    /// Released (or withdrawn): the lease's own tag is removed. A failed removal is reported,
    /// never fatal: the lease expires anyway.
    fn drop(&mut self) {
        if !self.held {
            return;
        }
        if let Err(e) = self.reg.borrow().remove_lease_tag(&self.name, &self.key) {
            crate::printer::to_stderr(&format!(
                "warning: could not release the lease on `{}` ({e}); it expires at {}",
                self.name,
                clock::fmt(self.tag.expires)
            ));
        }
    }
}
