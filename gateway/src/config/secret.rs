//! Loading the L402 master secret from a file or an environment variable.

use super::{ConfigError, L402Config};

/// Minimum secret length in bytes.
pub const MIN_SECRET_BYTES: usize = 32;

/// Load the master secret: `secret_file` if set, else the `secret_env` variable (hex).
/// Returns [`ConfigError::Secret`] naming where it looked; the secret itself is never printed.
pub fn load_secret(cfg: &L402Config) -> Result<Vec<u8>, ConfigError> {
    let (raw, origin) = if let Some(path) = &cfg.secret_file {
        let bytes = std::fs::read(path).map_err(|e| {
            ConfigError::Secret(format!("cannot read secret_file {}: {e}", path.display()))
        })?;
        (bytes, format!("secret_file {}", path.display()))
    } else {
        let value = std::env::var(&cfg.secret_env).map_err(|_| {
            ConfigError::Secret(format!(
                "environment variable {} is not set (hex, at least {MIN_SECRET_BYTES} bytes; \
                 e.g. `openssl rand -hex 32`)",
                cfg.secret_env
            ))
        })?;
        (value.into_bytes(), format!("${}", cfg.secret_env))
    };
    let text = std::str::from_utf8(&raw).ok().map(str::trim);
    let secret = match text.and_then(|t| hex::decode(t).ok()) {
        Some(decoded) => decoded,
        None if cfg.secret_file.is_some() => raw,
        None => return Err(ConfigError::Secret(format!("{origin} is not valid hex"))),
    };
    if secret.len() < MIN_SECRET_BYTES {
        return Err(ConfigError::Secret(format!(
            "{origin} holds {} bytes; at least {MIN_SECRET_BYTES} are required",
            secret.len()
        )));
    }
    Ok(secret)
}
