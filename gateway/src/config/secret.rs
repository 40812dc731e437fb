//! Loading the L402 master secret and the MPP HMAC secret from a file or an environment
//! variable.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{read_secret_file, ConfigError, L402Config, MppConfig};

/// Minimum secret length in bytes.
pub const MIN_SECRET_BYTES: usize = 32;

/// Load the master secret: `secret_file` if set, else the `secret_env` variable (hex).
/// Returns [`ConfigError::Secret`] naming where it looked; the secret itself is never printed.
pub fn load_secret(cfg: &L402Config) -> Result<Vec<u8>, ConfigError> {
    let (raw, origin) = if let Some(path) = &cfg.secret_file {
        let bytes = read_secret_file(path, "l402.secret_file")?;
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

/// Load the MPP HMAC secret the way the MPP SDKs (mppx `secretKey`, pympp) use theirs: the
/// UTF-8 bytes of the configured string, as is (no hex decoding), so one secret string is
/// shared with an mppx server. From `secret_file` (its bytes, one trailing newline dropped),
/// else the `secret_env` variable, ≥ 32 bytes either way; else
/// `HMAC-SHA256(l402_secret, "gate402/mpp/secret")` so a gateway with only the L402 master
/// secret configured still has a distinct MPP key.
pub fn load_mpp_secret(cfg: &MppConfig, l402_secret: &[u8]) -> Result<Vec<u8>, ConfigError> {
    let secret = if let Some(path) = &cfg.secret_file {
        let mut raw = read_secret_file(path, "mpp.secret_file")?;
        if raw.last() == Some(&b'\n') {
            raw.pop();
            if raw.last() == Some(&b'\r') {
                raw.pop();
            }
        }
        raw
    } else if let Ok(v) = std::env::var(&cfg.secret_env) {
        v.into_bytes()
    } else {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(l402_secret)
            .map_err(|_| ConfigError::Secret("invalid L402 secret".into()))?;
        mac.update(b"gate402/mpp/secret");
        return Ok(mac.finalize().into_bytes().to_vec());
    };
    if secret.len() < MIN_SECRET_BYTES {
        return Err(ConfigError::Secret(format!(
            "the MPP secret holds {} bytes; at least {MIN_SECRET_BYTES} are required \
             (e.g. `openssl rand -base64 32`)",
            secret.len()
        )));
    }
    Ok(secret)
}
