//! Reading a secret from a file, refusing files other users can read (ssh's rule of thumb:
//! world-readable → refuse, group-readable → warn). Errors name the file and the fix, never
//! its contents.

use std::path::Path;

use super::ConfigError;

/// Read the secret file `path` (`what` names the config key, e.g. `l402.secret_file`).
/// [`ConfigError::SecretFileMode`] when the file is readable by every user.
pub fn read_secret_file(path: &Path, what: &str) -> Result<Vec<u8>, ConfigError> {
    check_mode(path, what)?;
    std::fs::read(path)
        .map_err(|e| ConfigError::Secret(format!("cannot read {what} {}: {e}", path.display())))
}

#[cfg(unix)]
fn check_mode(path: &Path, what: &str) -> Result<(), ConfigError> {
    use std::os::unix::fs::PermissionsExt;
    // A missing file is reported by the read with the OS error.
    let Ok(meta) = std::fs::metadata(path) else {
        return Ok(());
    };
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o004 != 0 {
        return Err(ConfigError::SecretFileMode {
            what: what.to_owned(),
            path: path.display().to_string(),
            mode,
        });
    }
    if mode & 0o040 != 0 {
        tracing::warn!(
            file = %path.display(),
            mode = format_args!("{mode:03o}"),
            "{what} is readable by its group; `chmod 600` it unless that is intended"
        );
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_mode(_path: &Path, _what: &str) -> Result<(), ConfigError> {
    Ok(())
}
