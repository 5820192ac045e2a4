//! The journal: an append-only JSON-lines record of every event, in the state directory.

use std::fs::{self, OpenOptions};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::clock;

/// One line of the journal.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub event: String,
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub entry: Entry,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Entry {
    Started {
        command: String,
        model: String,
        registered_name: String,
        registry: String,
        mode: String,
        from: Vec<u64>,
        to: u64,
        to_reason: String,
        reason: String,
        triggered_by: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detected_at: Option<DateTime<Utc>>,
        started_at: DateTime<Utc>,
    },
    Plan {
        steps: Vec<String>,
    },
    Confirmed {
        how: String,
    },
    StepStarted {
        index: usize,
        step: String,
    },
    StepFinished {
        index: usize,
        ok: bool,
        detail: String,
        millis: u64,
    },
    Executed,
    Verified {
        ok: bool,
        detail: String,
    },
    Finished {
        outcome: String,
        message: String,
    },
    /// When the breach began, found in Prometheus history (no --detected-at given).
    Detected {
        /// Not `at`: the record's own `at` (when it was written) shares the JSON object.
        began_at: DateTime<Utc>,
        reason: String,
    },
    /// Metrics after the rollback: back within tolerance of baseline (`ok`) or not by the timeout.
    /// When present, the MTTR verification phase ends here rather than at the registry check.
    MetricsVerified {
        ok: bool,
        detail: String,
    },
    Designated {
        model: String,
        version: u64,
        by: String,
    },
    Annotation {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        root_cause: Option<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        factors: Vec<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        actions: Vec<Action>,
    },
}

/// A corrective action: what, who, by when.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Action {
    pub what: String,
    pub owner: String,
    pub due: String,
}

pub struct Journal {
    path: PathBuf,
    event: String,
    failed: bool,
}

impl Journal {
    pub fn path_in(state_dir: &Path) -> PathBuf {
        state_dir.join("journal.jsonl")
    }

    pub fn new(state_dir: &Path, event: &str) -> Journal {
        Journal {
            path: Self::path_in(state_dir),
            event: event.to_string(),
            failed: false,
        }
    }

    pub fn event(&self) -> &str {
        &self.event
    }

    /// Appends one record. A journal that cannot be written never stops a rollback: the first
    /// failure is reported (the record of this event is incomplete) and later ones are silent.
    pub fn append(&mut self, entry: Entry) {
        let rec = Record {
            event: self.event.clone(),
            at: clock::now(),
            entry,
        };
        if let Err(e) = self.write(&rec) {
            if !self.failed {
                eprintln!(
                    "warning: cannot write the journal {}: {e}; the rollback goes on, but its record is missing from the journal (the registry tags still record it)",
                    self.path.display()
                );
            }
            self.failed = true;
        }
    }

    fn write(&self, rec: &Record) -> std::io::Result<()> {
        if let Some(dir) = self.path.parent() {
            fs::create_dir_all(dir)?;
        }
        let mut line = serde_json::to_vec(rec).map_err(std::io::Error::other)?;
        line.push(b'\n');
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        // One write per line: appends from two processes never interleave within a line.
        f.write_all(&line)
    }

    /// Flushes the journal to disk at the end of an event.
    pub fn sync(&self) {
        if let Ok(f) = OpenOptions::new().append(true).open(&self.path) {
            let _ = f.sync_all();
        }
    }
}

/// Every record in the journal, in order, with the number of unreadable lines skipped.
pub fn read_all(state_dir: &Path) -> std::io::Result<(Vec<Record>, usize)> {
    let path = Journal::path_in(state_dir);
    let f = match fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    let mut bad = 0;
    for line in std::io::BufReader::new(f).split(b'\n') {
        let line = line?;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<Record>(&line) {
            Ok(r) => out.push(r),
            Err(_) => bad += 1,
        }
    }
    Ok((out, bad))
}

/// A new event id in the reference document's form, `rollback-<timestamp>`, made unique.
pub fn new_event_id(kind: &str) -> String {
    let now = clock::now();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let salt = (nanos ^ std::process::id().rotate_left(16)) & 0xffff;
    format!("{kind}-{}-{salt:04x}", now.format("%Y%m%dT%H%M%SZ"))
}
