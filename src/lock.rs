//! One rollback per model at a time on this machine: an exclusive lock file per model in the
//! state dir, naming its holder so a second engineer learns who is rolling back since when.

use std::fs::{self, File};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use crate::clock;
use crate::error::{CliError, ExitStatus};

/// Held until dropped; the OS releases it if the process dies, so a crash never leaves it stuck.
pub struct ModelLock {
    _file: File,
}

fn lock_path(state_dir: &Path, model: &str) -> PathBuf {
    // Model names may hold any character: the file name is a readable prefix plus a hash.
    let safe: String = model
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(60)
        .collect();
    let hash = model.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
    });
    state_dir
        .join("locks")
        .join(format!("{safe}-{hash:016x}.lock"))
}

/// Takes the model's lock or says who holds it. `Ok(None)` when the state dir cannot hold a
/// lock file: the rollback goes on (warned), as it does when the journal cannot be written.
/// `key` names the model uniquely (registry location + name); `model` is how users call it.
pub fn acquire(
    state_dir: &Path,
    key: &str,
    model: &str,
    holder: &str,
) -> Result<Option<ModelLock>, CliError> {
    let path = lock_path(state_dir, key);
    let opened = crate::statedir::ensure(state_dir)
        .and_then(|_| path.parent().map(crate::statedir::ensure).unwrap_or(Ok(())))
        .and_then(|_| crate::files::open_private(&path, false));
    let mut file = match opened {
        Ok(f) => f,
        Err(e) => {
            crate::printer::to_stderr(&format!(
                "warning: cannot create the lock file {}: {e}; two rollbacks of `{model}` from this machine would not be kept apart",
                path.display()
            ));
            return Ok(None);
        }
    };
    match file.try_lock() {
        Ok(()) => {
            let info = format!(
                "{holder} (pid {}) since {}\n",
                std::process::id(),
                clock::fmt(clock::now())
            );
            let _ = file
                .set_len(0)
                .and_then(|_| file.rewind())
                .and_then(|_| file.write_all(info.as_bytes()));
            Ok(Some(ModelLock { _file: file }))
        }
        Err(fs::TryLockError::WouldBlock) => {
            let mut who = String::new();
            let _ = file.read_to_string(&mut who);
            Err(CliError::new(
                ExitStatus::Refused,
                format!(
                    "a rollback of `{model}` is already running on this machine: {}",
                    if who.trim().is_empty() { "holder unknown".into() } else { who.trim().to_string() }
                ),
            )
            .with_hint("wait for it to finish (`mlrb report --last` shows it when done); nothing was changed"))
        }
        Err(fs::TryLockError::Error(e)) => {
            crate::printer::to_stderr(&format!(
                "warning: cannot lock {}: {e}; going on without the lock",
                path.display()
            ));
            Ok(None)
        }
    }
}
