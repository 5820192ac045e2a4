//! helm: `helm rollback RELEASE N --wait`; a deployed revision that is itself a rollback is
//! not rolled back.

use crate::clock;
use crate::error::{CliError, ExitStatus};
use crate::exec::helm;
use crate::journal::Record;
use crate::rollback::{CommandStep, Kind};

use super::{Draft, Drafted, Infra, Started, early, last_infra_rollback, no_revision, nothing};

/// The deployed revision (else the newest).
pub(super) fn helm_current(revs: &[helm::Release]) -> Option<&helm::Release> {
    revs.iter()
        .find(|r| r.status == "deployed")
        .or(revs.first())
}

impl Infra {
    pub(super) fn plan_helm(&self, records: &[Record], started: Option<&Started>) -> Drafted {
        let name = self.cfg.release.clone().unwrap_or_default();
        let h = self.helm();
        let target = self.subject().target;
        let revs = h.history(&name).map_err(|e| early("helm", e, &target))?;
        let Some(current) = helm_current(&revs) else {
            return Err(CliError::new(
                ExitStatus::NoTarget,
                format!("{target} has no history; nothing to roll back"),
            )
            .into());
        };
        let to = match (started, self.to_revision) {
            (Some(s), _) => s.to,
            (None, Some(n)) => n,
            (None, None) => {
                // A release whose deployed revision is a rollback: going "back" from it would
                // deploy the revision it rolled back from.
                if let Some(n) = current
                    .description
                    .strip_prefix("Rollback to ")
                    .and_then(|n| n.trim().parse::<u64>().ok())
                {
                    let by =
                        last_infra_rollback(records, &target, "helm").filter(|(_, s, _)| s.to == n);
                    let message = match &by {
                        Some((event, _, at)) => format!(
                            "already rolled back by {event} at {} (revision {}); nothing changed",
                            clock::fmt(*at),
                            current.revision
                        ),
                        None => format!(
                            "already rolled back: revision {} of {target} is a helm rollback to revision {n} ({}); nothing changed",
                            current.revision, current.description
                        ),
                    };
                    return Ok(Err(nothing(
                        "already_rolled_back",
                        message,
                        &[
                            ("strategy", "helm".into()),
                            ("target", target.clone().into()),
                            ("revision", current.revision.into()),
                            (
                                "rolled_back_by",
                                by.as_ref().map(|(e, _, _)| e.clone()).into(),
                            ),
                        ],
                    )));
                }
                revs.iter()
                    .find(|r| r.revision < current.revision)
                    .map(|r| r.revision)
                    .ok_or_else(|| {
                        CliError::new(
                            ExitStatus::NoTarget,
                            format!(
                                "nothing to roll back: {target} has only revision {}",
                                current.revision
                            ),
                        )
                    })?
            }
        };
        let Some(to) = revs.iter().find(|r| r.revision == to) else {
            return Err(no_revision(
                &target,
                to,
                &revs.iter().map(|r| r.revision).collect::<Vec<_>>(),
                &self.model,
            ));
        };
        if started.is_none() && to.revision == current.revision {
            return Ok(Err(nothing(
                "no_change",
                format!(
                    "{target} is at revision {} already; nothing changed",
                    to.revision
                ),
                &[
                    ("strategy", "helm".into()),
                    ("target", target.clone().into()),
                ],
            )));
        }
        let from = started.map_or(current.revision, |s| s.from);
        let want = to.revision;
        // Resumed: the rollback is done when the newest revision is a deployed rollback to the
        // target made after the one it started from.
        let done: Option<Box<dyn Fn() -> bool>> = started.map(|_| {
            let (dh, dname) = (h.clone(), name.clone());
            Box::new(move || {
                dh.history(&dname).is_ok_and(|revs| {
                    revs.first().is_some_and(|top| {
                        top.revision > from
                            && top.status == "deployed"
                            && top.description.contains(&format!("Rollback to {want}"))
                    })
                })
            }) as Box<dyn Fn() -> bool>
        });
        let (vh, vname) = (h.clone(), name.clone());
        let t = target.clone();
        Ok(Ok(Draft {
            strategy: "helm",
            target: target.clone(),
            from,
            to: want,
            unit: "revision",
            from_label: from.to_string(),
            to_label: want.to_string(),
            to_reason: format!(
                "revision {} ({} app {}: {})",
                to.revision, to.chart, to.app_version, to.description
            ),
            detail: Vec::new(),
            notes: Vec::new(),
            steps: vec![Box::new(CommandStep {
                cmd: h.rollback(&name, Some(want), self.timeout()),
                explain: Box::new(helm::explain),
                done,
            })],
            verify: Box::new(move || {
                let revs = vh
                    .history(&vname)
                    .map_err(|e| format!("cannot re-read the history of {t}: {e}"))?;
                let top = revs.first().ok_or("the release has no history")?;
                if top.status != "deployed"
                    || !top.description.contains(&format!("Rollback to {want}"))
                {
                    return Err(format!(
                        "the newest revision {} is {} ({}), not a deployed rollback to {want}",
                        top.revision, top.status, top.description
                    ));
                }
                Ok(format!(
                    "revision {} is deployed: {}",
                    top.revision, top.description
                ))
            }),
            claim: None,
        }))
    }
}
