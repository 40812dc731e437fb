//! Writing secret files the way an operator must: mode 0600 (the gateway refuses secret files
//! every user can read).

use std::path::Path;

/// Write `contents` to `path` with mode 0600 (owner read/write only).
pub fn write_secret(path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> std::io::Result<()> {
    let path = path.as_ref();
    std::fs::write(path, contents)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}
