//! The re-promotion guard: a version mlrb rolled back from that is live again without an mlrb
//! rollback (a CI job re-promoting the bad release, a hand in the registry UI).
//!
//! An mlrb rollback that goes back to such a version (`--to V --force`) tags it as its target,
//! so a live version still tagged `rollback.role=rolled_back_from` was put back by something
//! else.

use std::collections::BTreeSet;

use crate::config::ModelTarget;
use crate::registry::{LiveMode, ModelVersion, Registry, Stage, tags};

/// Why `v`, which is live, is a re-promoted version; `None` when it is not one.
pub fn repromoted(v: &ModelVersion) -> Option<String> {
    if !v.was_rolled_back_from() {
        return None;
    }
    let event = v.tag(tags::EVENT_ID).unwrap_or("?");
    let when = v
        .tag(tags::TIMESTAMP)
        .map(|t| format!(" at {t}"))
        .unwrap_or_default();
    let by = v
        .tag(tags::TRIGGERED_BY)
        .map(|b| format!(" by {b}"))
        .unwrap_or_default();
    Some(format!(
        "the live version v{n} was rolled back from (event {event}{by}{when}) and is live again without an mlrb rollback: a deploy job or a hand re-promoted it",
        n = v.version
    ))
}

/// What `watch` remembers between checks: the live version it last looked at, and the
/// re-promotions it has told about (once each).
#[derive(Default)]
pub struct Guard {
    last_live: Option<u64>,
    told: BTreeSet<(u64, String)>,
    failing: bool,
}

/// What one look found.
pub enum Found {
    Nothing,
    /// A re-promotion not told about before: the message to send.
    Repromoted(String),
    /// The registry could not be read (said once until it can be again).
    Unreadable(String),
}

impl Guard {
    /// One look: the registered model (one request); the live version itself only when it
    /// changed since the last look.
    pub fn look(&mut self, reg: &dyn Registry, target: &ModelTarget) -> Found {
        let name = &target.registered_name;
        let live = match reg.get_model(name) {
            Ok(m) => match &target.mode {
                LiveMode::Stage => m.latest.get(&Stage::Production).copied(),
                LiveMode::Alias(a) => m.aliases.get(a).copied(),
            },
            Err(e) => return self.failed(e.to_string()),
        };
        if live == self.last_live && !self.failing {
            return Found::Nothing;
        }
        let Some(n) = live else {
            self.last_live = None;
            return Found::Nothing;
        };
        let v = match reg.get_version(name, n) {
            Ok(v) => v,
            Err(e) => return self.failed(e.to_string()),
        };
        self.failing = false;
        self.last_live = live;
        match repromoted(&v) {
            Some(msg)
                if self
                    .told
                    .insert((n, v.tag(tags::EVENT_ID).unwrap_or_default().to_string())) =>
            {
                Found::Repromoted(format!(
                    "{msg}; if it is still bad, roll back again: mlrb rollback model {}",
                    target.key
                ))
            }
            _ => Found::Nothing,
        }
    }

    fn failed(&mut self, why: String) -> Found {
        if std::mem::replace(&mut self.failing, true) {
            Found::Nothing
        } else {
            Found::Unreadable(format!(
                "cannot read the live version for the re-promotion guard: {why}"
            ))
        }
    }
}
