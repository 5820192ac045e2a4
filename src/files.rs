//! Files mlrb writes: readable by this user only, and never through a symlink someone planted.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

/// Opens a state file (journal, lock) for writing, creating it 0600. A symlink in its place is
/// refused (`O_NOFOLLOW`), so a planted link cannot make mlrb append to or truncate its target;
/// a file left by an older mlrb with a wider mode is narrowed to 0600.
pub fn open_private(path: &Path, append: bool) -> io::Result<File> {
    let mut o = OpenOptions::new();
    o.create(true);
    if append {
        o.append(true);
    } else {
        o.read(true).write(true).truncate(false);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        o.mode(0o600).custom_flags(libc::O_NOFOLLOW);
        let f = o.open(path).map_err(|e| {
            if e.raw_os_error() == Some(libc::ELOOP) {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "{} is a symlink; mlrb does not write through one",
                        path.display()
                    ),
                )
            } else {
                e
            }
        })?;
        if f.metadata()?.permissions().mode() & 0o077 != 0 {
            f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        Ok(f)
    }
    #[cfg(not(unix))]
    o.open(path)
}

/// Writes `bytes` to `path` as a new file (0600) that replaces whatever was there, a symlink
/// included, without following it: a temp file beside it, then a rename. A reader sees the old
/// file or the new one, never half of either.
pub fn write_replacing(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
