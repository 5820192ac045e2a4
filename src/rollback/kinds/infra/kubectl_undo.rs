//! kubectl: `rollout undo` to the target revision, then the rollback recorded on the Deployment
//! (once its controller has numbered the revision the undo produced), then `rollout status`.

use std::time::Duration;

use serde_json::Value;

use crate::clock;
use crate::context::Ctx;
use crate::error::{CliError, ExitStatus};
use crate::exec::kubectl::{Kubectl, Revision};
use crate::exec::{Cmd, kubectl};
use crate::journal::Record;
use crate::rollback::{Kind, Planned, Request, Step, StepFailure};

use super::lease::{CasError, Lease, Object, Write};
use super::{
    AT, Awaits, BY, Draft, Drafted, Infra, REVISION, Recorded, Started, TEMPLATE, TO_REVISION,
    command_step, last_infra_rollback, lease, no_revision, nothing, run_cmd,
};

/// The completed rollback that left the Deployment as it is now, if nothing was deployed since:
/// from the annotations on the object, else from this machine's journal. (event, when).
fn already_undone(
    dep: &Value,
    revs: &[Revision],
    current: &Revision,
    records: &[Record],
    target: &str,
) -> Option<(String, Option<chrono::DateTime<chrono::Utc>>)> {
    if let Some(r) = Recorded::on(dep).filter(|r| r.produced(current)) {
        return Some((r.by, r.at));
    }
    // The journal: the last rollback of this Deployment that finished went to the ReplicaSet
    // that runs now, and no revision was made after the one it produced.
    let (event, s, at) = last_infra_rollback(records, target, "kubectl")?;
    let newest = revs.first().map(|r| r.revision);
    (s.word_after("replicaset ").as_deref() == Some(current.replicaset.as_str())
        && current.revision > s.from
        && newest == Some(current.revision))
    .then_some((event, Some(at)))
}

/// Undoes the Deployment to the target's template. On a resumed rollback it is done when the
/// Deployment already runs that template (the revision it named is renumbered by then).
struct Undo {
    cmd: Cmd,
    k: Kubectl,
    name: String,
    want: Value,
    target: String,
    resuming: bool,
}

impl Step for Undo {
    fn line(&self) -> String {
        self.cmd.line()
    }
    fn done(&self) -> bool {
        self.resuming
            && self
                .k
                .get_json("deployment", &self.name)
                .is_ok_and(|d| kubectl::template_of(&d) == self.want)
    }
    fn run(&self, _event: &str) -> std::result::Result<String, StepFailure> {
        run_cmd(&self.cmd, |e| kubectl::explain(e, &self.target))
    }
}

/// Records the rollback on the Deployment once its controller has numbered the revision the
/// undo produced, and takes the lease back (the undo replaces the Deployment's annotations with
/// the target ReplicaSet's). A compare-and-swap: refused if another rollback claimed it since.
struct RecordUndo {
    obj: Object,
    observe: Duration,
    want: Value,
    to: u64,
    /// The target's `pod-template-hash`.
    hash: String,
    who: String,
    /// The interrupted rollback being resumed.
    resumed: Option<String>,
}

impl RecordUndo {
    fn current(&self, dep: &Value) -> std::result::Result<Revision, String> {
        let revs = self
            .obj
            .k
            .history(dep)
            .map_err(|e| format!("cannot read the revisions: {e}"))?;
        let cur = revs
            .into_iter()
            .find(|r| r.current)
            .ok_or("the deployment has no current revision")?;
        if cur.template != self.want {
            return Err(format!(
                "the live template (revision {}, {}) is not the target's: the undo did not take, or something was deployed since",
                cur.revision,
                cur.images.join(", ")
            ));
        }
        Ok(cur)
    }
}

impl Step for RecordUndo {
    fn line(&self) -> String {
        // What is known only when it runs is in capitals.
        let set = [
            (BY, "EVENT".to_string()),
            (AT, "NOW".into()),
            (TO_REVISION, self.to.to_string()),
            (REVISION, "NEW".into()),
            (TEMPLATE, self.hash.clone()),
            (lease::KEY, "LEASE".into()),
        ];
        self.obj
            .k
            .annotate(&self.obj.resource, &self.obj.name, Some("RV"), &set, &[])
            .line()
    }

    fn done(&self) -> bool {
        let Some(event) = &self.resumed else {
            return false;
        };
        let Ok(dep) = self.obj.read() else {
            return false;
        };
        Recorded::on(&dep)
            .is_some_and(|r| r.by == *event && self.current(&dep).is_ok_and(|cur| r.produced(&cur)))
    }

    fn run(&self, event: &str) -> std::result::Result<String, StepFailure> {
        // The revision the undo produced is numbered by the controller when it observes it.
        self.obj
            .k
            .observed_deployment(&self.obj.name, self.observe, |_, _| {})
            .map_err(|e| e.to_string())?;
        let mut now_at = None;
        let r = self.obj.cas(|dep| {
            if let Some(l) = lease::foreign(dep, event) {
                return Err(format!(
                    "another rollback claimed the object after the undo: {}",
                    lease::held_by(&self.obj.shown, &l)
                ));
            }
            let cur = self.current(dep)?;
            now_at = Some(cur.revision);
            Ok(Write::Annotate(vec![
                (BY, event.to_string()),
                (AT, clock::fmt(clock::now())),
                (TO_REVISION, self.to.to_string()),
                (REVISION, cur.revision.to_string()),
                (TEMPLATE, cur.hash.clone()),
                (
                    lease::KEY,
                    Lease::new(event, &self.who, Some(cur.revision)).json(),
                ),
            ]))
        });
        match r {
            Ok(_) => Ok(format!(
                "recorded on {}: rolled back by {event} to revision {}, now revision {}",
                self.obj.shown,
                self.to,
                now_at.unwrap_or_default()
            )),
            Err(CasError::Refused(why)) => Err(why.into()),
            Err(CasError::Exec(e)) => Err(kubectl::explain(&e, &self.obj.shown).0.into()),
            Err(CasError::Busy) => Err(format!(
                "cannot record the rollback on {}: it kept changing",
                self.obj.shown
            )
            .into()),
        }
    }
}

impl Infra {
    pub(super) fn plan_kubectl(
        &self,
        ctx: &Ctx,
        req: &Request,
        records: &[Record],
        started: Option<&Started>,
    ) -> Drafted {
        let name = self.cfg.deployment.clone().unwrap_or_default();
        let k = self.kubectl();
        let target = self.subject().target;
        let (dep, revs) = self.observed(ctx, &name, &target)?;
        let Some(current) = revs.iter().find(|r| r.current).or(revs.first()) else {
            return Err(CliError::new(
                ExitStatus::NoTarget,
                format!("{target} has no rollout history; nothing to undo"),
            )
            .into());
        };
        let to = match self.choose(&dep, &revs, current, records, started, &target)? {
            Ok(to) => to,
            Err(nothing) => return Ok(Err(nothing)),
        };
        if started.is_none() && to.template == current.template {
            return Ok(Err(nothing(
                "no_change",
                format!(
                    "{target} already runs the template of revision {} (revision {}, {}); nothing changed",
                    to.revision,
                    current.revision,
                    current.images.join(", ")
                ),
                &[
                    ("strategy", "kubectl".into()),
                    ("target", target.clone().into()),
                ],
            )));
        }
        // A resumed rollback shows and runs the undo it planned.
        let (from, to_n) = match started {
            Some(s) => (s.from, s.to),
            None => (current.revision, to.revision),
        };
        let images = to.images.join(", ");
        let obj = self.object("deployment", &name);
        let steps: Vec<Box<dyn Step>> = vec![
            Box::new(Undo {
                cmd: k.undo(&name, Some(to_n)),
                k: k.clone(),
                name: name.clone(),
                want: to.template.clone(),
                target: target.clone(),
                resuming: started.is_some(),
            }),
            Box::new(RecordUndo {
                obj: obj.clone(),
                observe: self.timeout().min(kubectl::OBSERVE_TIMEOUT),
                want: to.template.clone(),
                to: to_n,
                hash: to.hash.clone(),
                who: req.who.clone(),
                resumed: started.map(|s| s.event.clone()),
            }),
            Box::new(Awaits(command_step(
                k.status(&name, self.timeout()),
                "kubectl",
                &target,
            ))),
        ];
        let planned = current.template.clone();
        let resuming = started.is_some();
        let claim = self.claim(obj, req, move |dep| {
            if resuming || kubectl::template_of(dep) == planned {
                return Ok(());
            }
            Err(match Recorded::on(dep) {
                Some(r) => format!(
                    "now rolled back by {} at {}",
                    r.by,
                    r.at.map(clock::fmt).unwrap_or_default()
                ),
                None => "its pod template is not the one planned from: something was deployed or rolled back".into(),
            })
        });
        // Undoing the template of a Deployment scaled to 0 changes what would run, not what
        // serves: said before, and the verification fails (exit 5) while it stays at 0.
        let notes = match dep["spec"]["replicas"].as_u64() {
            Some(0) => vec![format!(
                "{target} is scaled to 0 replicas: nothing serves the model, before or after the undo; scale it up (`kubectl scale deployment/{name} --replicas=N`) for the rollback to be verified"
            )],
            _ => Vec::new(),
        };
        let want = to.template.clone();
        let (vk, vname, vimages) = (k.clone(), name.clone(), images.clone());
        Ok(Ok(Draft {
            strategy: "kubectl",
            target,
            from,
            to: to_n,
            unit: "revision",
            from_label: from.to_string(),
            to_label: to_n.to_string(),
            to_reason: format!(
                "revision {to_n} (replicaset {}, {images}{})",
                to.replicaset,
                if to.change_cause.is_empty() {
                    String::new()
                } else {
                    format!(", change-cause: {}", to.change_cause)
                }
            ),
            detail: Vec::new(),
            notes,
            steps,
            verify: Box::new(move || verify_deployment(&vk, &vname, &want, &vimages)),
            claim: Some(claim),
        }))
    }

    /// The revision to go back to: the one an interrupted rollback planned, the one named, or
    /// the one before the current; or nothing to do, when the current revision is a rollback.
    fn choose<'r>(
        &self,
        dep: &Value,
        revs: &'r [Revision],
        current: &'r Revision,
        records: &[Record],
        started: Option<&Started>,
        target: &str,
    ) -> anyhow::Result<std::result::Result<&'r Revision, Planned>> {
        let known = || revs.iter().map(|r| r.revision).collect::<Vec<_>>();
        Ok(Ok(match (started, self.to_revision) {
            // The ReplicaSet the interrupted rollback went to: its revision number changes
            // once the undo is made.
            (Some(s), _) => {
                let rs = s.word_after("replicaset ");
                let refuse = |why: String| {
                    CliError::new(
                        ExitStatus::Usage,
                        format!(
                            "the target of {} ({}) {why}; nothing was changed",
                            s.event, s.to_reason
                        ),
                    )
                    .with_hint(format!(
                        "`mlrb report {}` shows what was done; `mlrb rollback infra {} --history` lists the revisions",
                        s.event, self.model
                    ))
                };
                let to = revs
                    .iter()
                    .find(|r| match &rs {
                        Some(rs) => r.replicaset == *rs,
                        None => r.revision == s.to,
                    })
                    .ok_or_else(|| {
                        refuse(format!("is no longer among the revisions of {target}"))
                    })?;
                // Until the undo, the ReplicaSet keeps the number the undo names; after it, it
                // is the live one. Anything else: the journal and the cluster disagree.
                if to.revision != s.to && !to.current {
                    return Err(refuse(format!(
                        "is now revision {} of {target}, neither revision {} nor the live one",
                        to.revision, s.to
                    ))
                    .into());
                }
                to
            }
            (None, Some(n)) => revs
                .iter()
                .find(|r| r.revision == n)
                .ok_or_else(|| no_revision(target, n, &known(), &self.model))?,
            (None, None) => {
                if let Some((event, at)) = already_undone(dep, revs, current, records, target) {
                    return Ok(Err(nothing(
                        "already_rolled_back",
                        format!(
                            "already rolled back by {event} at {} (revision {}); nothing changed",
                            at.map(clock::fmt)
                                .unwrap_or_else(|| "an unknown time".into()),
                            current.revision
                        ),
                        &[
                            ("strategy", "kubectl".into()),
                            ("target", target.to_string().into()),
                            ("revision", current.revision.into()),
                            ("rolled_back_by", event.into()),
                            ("rolled_back_at", at.map(clock::fmt).into()),
                        ],
                    )));
                }
                // A revision that made an earlier template live again (a rollback by hand, by
                // another tool, or one whose record is gone): undoing it would bring back what
                // it replaced.
                if !current.earlier.is_empty() {
                    let earlier: Vec<String> = current.earlier.iter().map(u64::to_string).collect();
                    return Ok(Err(nothing(
                        "already_rolled_back",
                        format!(
                            "already rolled back: revision {} of {target} made the template of revision {} ({}) live again, by a rollback or a deploy of that version; undoing it would bring back what it replaced; nothing changed (`--to-revision N` goes to another revision)",
                            current.revision,
                            earlier.join(", "),
                            current.images.join(", ")
                        ),
                        &[
                            ("strategy", "kubectl".into()),
                            ("target", target.to_string().into()),
                            ("revision", current.revision.into()),
                            ("rolled_back_by", Value::Null),
                        ],
                    )));
                }
                revs.iter()
                    .find(|r| r.revision < current.revision)
                    .ok_or_else(|| {
                        CliError::new(
                            ExitStatus::NoTarget,
                            format!(
                                "nothing to undo: {target} has only revision {} ({})",
                                current.revision,
                                current.images.join(", ")
                            ),
                        )
                        .with_hint("there is no earlier revision to go back to; fix forward or check the deployment's revisionHistoryLimit")
                    })?
            }
        }))
    }
}

fn verify_deployment(
    k: &Kubectl,
    name: &str,
    want: &Value,
    images: &str,
) -> std::result::Result<String, String> {
    let dep = k
        .get_deployment(name)
        .map_err(|e| format!("cannot re-read the deployment: {e}"))?;
    let revs = k
        .history(&dep)
        .map_err(|e| format!("cannot re-read the revisions: {e}"))?;
    let cur = revs
        .iter()
        .find(|r| r.current)
        .ok_or("the deployment has no current revision")?;
    if cur.template != *want {
        return Err(format!(
            "the live template (revision {}, {}) is not the target's ({images})",
            cur.revision,
            cur.images.join(", ")
        ));
    }
    let ready = dep["status"]["readyReplicas"].as_u64().unwrap_or(0);
    let wanted = dep["spec"]["replicas"].as_u64().unwrap_or(1);
    if wanted == 0 {
        return Err(format!(
            "revision {} runs {images}, but deployment/{name} is scaled to 0 replicas: nothing serves it (`kubectl scale deployment/{name} --replicas=N`)",
            cur.revision
        ));
    }
    if ready < wanted {
        return Err(format!("{ready}/{wanted} replicas ready"));
    }
    Ok(format!(
        "revision {} runs {images}, {ready}/{wanted} replicas ready",
        cur.revision
    ))
}
