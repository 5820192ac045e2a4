//! The state directory's safety: created 0700, refused when another user can change it, since
//! its journal decides what `--resume` does and its locks keep rollbacks apart.

use std::io;
use std::path::Path;

/// Creates `dir` (and missing parents) readable by this user only, then `check`s it.
pub fn ensure(dir: &Path) -> io::Result<()> {
    if !dir.exists() {
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            b.mode(0o700);
        }
        b.create(dir)?;
    }
    check(dir)
}

/// Refuses a state directory that another user owns or may write: whoever can write it can
/// forge the journal that `--resume` follows, or take the locks away. A missing one is fine.
#[cfg(unix)]
pub fn check(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let meta = match std::fs::metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    // SAFETY: getuid has no preconditions and cannot fail.
    let me = unsafe { libc::getuid() };
    if meta.uid() != me && meta.uid() != 0 {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "the state directory {} belongs to uid {}, not to you (uid {me}); mlrb keeps its journal only in a directory of yours",
                dir.display(),
                meta.uid()
            ),
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "the state directory {} can be changed by other users (mode {:o}); mlrb keeps its journal only where nobody else can write (chmod 700 {})",
                dir.display(),
                meta.mode() & 0o7777,
                dir.display()
            ),
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
pub fn check(_: &Path) -> io::Result<()> {
    Ok(())
}
