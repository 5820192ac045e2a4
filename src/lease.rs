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
    /// Which machine and PID namespace the holder runs in (`/etc/machine-id` and the pid
    /// namespace), and its process start time: together they prove a holder dead; a hostname
    /// and a missing `/proc/PID` do not (containers share hostnames, not PID namespaces).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub machine: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub start: u64,
    /// The rollback's intent, for every machine: what it goes from and to, and its steps, so
    /// `status` anywhere shows an unfinished rollback and `--resume` anywhere finishes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<serde_json::Value>,
    /// Kept after its rollback ended without finishing (a failed step): not a lease any more,
    /// the record that the rollback must be resumed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unfinished: bool,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// This process's machine and PID namespace.
fn machine() -> String {
    let id = std::fs::read_to_string("/etc/machine-id")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let ns = std::fs::read_link("/proc/self/ns/pid")
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    if id.is_empty() || ns.is_empty() {
        String::new()
    } else {
        format!("{id}/{ns}")
    }
}

/// A process's start time (clock ticks since boot), `/proc/PID/stat` field 22.
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; fields after it follow its closing paren.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

impl LeaseTag {
    fn active(&self, now: DateTime<Utc>) -> bool {
        let cap = self.since + chrono::Duration::minutes(TTL_MINUTES);
        self.released.is_none() && self.expires.min(cap) > now
    }

    /// Held by a process that provably no longer runs: same machine and PID namespace, and
    /// no process with that pid and start time. Safe to take over.
    pub fn abandoned_here(&self) -> bool {
        !self.machine.is_empty()
            && self.machine == machine()
            && self.pid != 0
            && start_time(self.pid) != Some(self.start)
    }
}

pub fn hostname() -> String {
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
    /// Keep the tag as the record of an unfinished rollback instead of removing it.
    keep: bool,
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
    acquire_with_intent(reg, name, holder, event, force, None, fresh)
}

/// `acquire`, with the rollback's intent written into the lease for every machine to see.
pub fn acquire_with_intent<'r, R: Borrow<dyn Registry + 'r>>(
    reg: R,
    name: &str,
    holder: &str,
    event: &str,
    force: bool,
    intent: Option<serde_json::Value>,
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
            machine: machine(),
            start: start_time(std::process::id()).unwrap_or(0),
            intent,
            unfinished: false,
        },
        held: false,
        keep: false,
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
            .with_hint(if other.intent.is_some() {
                "wait for it; if that rollback was abandoned, finish it with --resume --force-unlock"
            } else {
                "wait for it; if that rollback was abandoned, take over with --force-unlock"
            })
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
    /// The rollback ended without finishing: on release the tag stays, marked unfinished, so
    /// every machine sees there is a rollback to resume.
    pub fn keep_as_unfinished(&mut self) {
        self.keep = true;
    }

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
        let r = if self.keep {
            self.tag.released = Some(clock::now());
            self.tag.unfinished = true;
            self.write().map_err(|e| e.to_string())
        } else {
            self.reg
                .borrow()
                .remove_lease_tag(&self.name, &self.key)
                .map_err(|e| e.to_string())
        };
        if let Err(e) = r {
            crate::printer::to_stderr(&format!(
                "warning: could not release the lease on `{}` ({e}); it expires at {}",
                self.name,
                clock::fmt(self.tag.expires)
            ));
        }
    }
}

/// A rollback of the model that is unfinished where every machine sees it: its holder is
/// provably gone (or its lease expired), or it ended without finishing.
#[derive(Debug, Clone)]
pub struct Unfinished {
    pub event: String,
    pub tag: LeaseTag,
    /// Why it is unfinished, for `status` and the refusal.
    pub why: String,
}

/// The model's unfinished rollbacks, from its lease tags.
pub fn unfinished(model: &RegisteredModel) -> Vec<Unfinished> {
    let now = clock::now();
    model
        .tags
        .iter()
        .filter(|(k, _)| k.starts_with(tags::LEASE_PREFIX))
        .filter_map(|(k, v)| {
            let tag = serde_json::from_str::<LeaseTag>(v).ok()?;
            tag.intent.as_ref()?;
            let why = if tag.unfinished {
                "it ended before finishing (a step failed)".to_string()
            } else if tag.abandoned_here() {
                "its process is gone".to_string()
            } else if !tag.active(now) {
                format!(
                    "its lease expired at {} with no release",
                    clock::fmt(
                        tag.expires
                            .min(tag.since + chrono::Duration::minutes(TTL_MINUTES))
                    )
                )
            } else {
                return None;
            };
            Some(Unfinished {
                event: k[tags::LEASE_PREFIX.len()..].to_string(),
                tag,
                why,
            })
        })
        .collect()
}
