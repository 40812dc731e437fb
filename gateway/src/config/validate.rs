//! [`Config::validate`]: every check that can be made before anything starts.

use gate402_protocols::ProtocolId;
use thiserror::Error;

use super::Config;

/// A configuration problem, reported before the gateway starts.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {message}")]
    Read {
        /// File path.
        path: String,
        /// OS error.
        message: String,
    },
    /// The TOML is invalid or has unknown fields.
    #[error("invalid config: {0}")]
    Parse(String),
    /// A value is out of range or inconsistent.
    #[error("invalid config: {field}: {message}")]
    Invalid {
        /// Dotted path of the field.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A secret is missing or too short.
    #[error("secret: {0}")]
    Secret(String),
    /// A secret file is readable by every user (refused; `chmod 600` fixes it).
    #[error(
        "secret: {what} {path} is readable by every user (mode {mode:03o}); run `chmod 600 {path}`"
    )]
    SecretFileMode {
        /// The config key naming the file, e.g. `l402.secret_file`.
        what: String,
        /// File path.
        path: String,
        /// Its permission bits.
        mode: u32,
    },
}

pub(super) fn invalid(field: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

impl Config {
    /// Check ranges and consistency. Secrets are checked separately by [`super::load_secret`].
    pub fn validate(&self) -> Result<(), ConfigError> {
        let up = &self.server.upstream;
        let uri: http::Uri = up
            .parse()
            .map_err(|_| invalid("server.upstream", format!("`{up}` is not a URL")))?;
        if !matches!(uri.scheme_str(), Some("http" | "h2c" | "https")) || uri.authority().is_none()
        {
            return Err(invalid(
                "server.upstream",
                "must be an http://, h2c:// or https:// URL with a host",
            ));
        }
        if self.server.tls_cert.is_some() != self.server.tls_key.is_some() {
            return Err(invalid(
                "server.tls_cert",
                "set tls_cert and tls_key together",
            ));
        }
        self.server.limits.validate()?;
        self.server.http2.validate()?;
        self.server.paywall.validate()?;
        if self.server.upstream_timeout_secs == 0 || self.server.header_read_timeout_secs == 0 {
            return Err(invalid("server", "timeouts must be at least 1 second"));
        }
        if !(60..=31_536_000).contains(&self.l402.invoice_expiry_secs) {
            return Err(invalid(
                "l402.invoice_expiry_secs",
                "must be between 60 and 31536000",
            ));
        }
        if !(50..=600_000).contains(&self.server.health_interval_ms) {
            return Err(invalid(
                "server.health_interval_ms",
                "must be between 50 and 600000",
            ));
        }
        let pool = &self.invoice_pool;
        if pool.size > 100_000 || pool.refill_concurrency == 0 || pool.refill_concurrency > 64 {
            return Err(invalid(
                "invoice_pool",
                "size must be ≤ 100000 and refill_concurrency between 1 and 64",
            ));
        }
        if pool.min_validity_secs >= self.l402.invoice_expiry_secs {
            return Err(invalid(
                "invoice_pool.min_validity_secs",
                "must be below l402.invoice_expiry_secs",
            ));
        }
        self.minting.validate()?;
        super::parse_trusted_proxies(&self.server.trusted_proxies)?;
        if let super::LightningConfig::Lnd(lnd) = &self.lightning {
            super::lnd_nodes::validate(lnd)?;
        }
        let mpp = &self.mpp;
        if mpp.realm.is_empty()
            || mpp
                .realm
                .chars()
                .any(|c| c.is_control() || c == '"' || c == '\\')
        {
            return Err(invalid(
                "mpp.realm",
                "must be non-empty, without quotes or backslashes",
            ));
        }
        if !(10..=3600).contains(&mpp.challenge_ttl_secs) {
            return Err(invalid(
                "mpp.challenge_ttl_secs",
                "must be between 10 and 3600",
            ));
        }
        if mpp
            .description
            .as_deref()
            .is_some_and(|d| d.chars().any(char::is_control))
        {
            return Err(invalid("mpp.description", "no control characters"));
        }
        if !(1..=(64 << 20)).contains(&mpp.max_body_bytes) {
            return Err(invalid("mpp.max_body_bytes", "must be 1 B to 64 MiB"));
        }
        if !(1..=10_000).contains(&mpp.session.deposit_units) {
            return Err(invalid(
                "mpp.session.deposit_units",
                "must be between 1 and 10000",
            ));
        }
        self.store.validate()?;
        let mut names = std::collections::HashSet::new();
        for (i, r) in self.routes.iter().enumerate() {
            let field = |f: &str| format!("route[{i}].{f}");
            if let Some(rl) = &r.rate_limit {
                rl.validate(&field("rate_limit"))?;
            }
            if r.uses == Some(0) {
                return Err(invalid(
                    field("uses"),
                    "must be at least 1 (omit it for unlimited)",
                ));
            }
            if r.name.is_empty()
                || !r
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
            {
                return Err(invalid(
                    field("name"),
                    "use letters, digits, '-', '_', '.', '/'",
                ));
            }
            if !names.insert(r.name.as_str()) {
                return Err(invalid(field("name"), format!("duplicate `{}`", r.name)));
            }
            if !r.path_prefix.starts_with('/') {
                return Err(invalid(field("path_prefix"), "must start with '/'"));
            }
            match (r.price_sat, r.price_msat, &r.pricer) {
                (Some(_), Some(_), _) => {
                    return Err(invalid(
                        field("price"),
                        "set price_sat or price_msat, not both",
                    ))
                }
                (None, None, None) => {
                    return Err(invalid(
                        field("price"),
                        "a price is required (price_sat, price_msat or [route.pricer])",
                    ))
                }
                (Some(_), _, Some(_)) | (_, Some(_), Some(_)) => {
                    return Err(invalid(
                        field("pricer"),
                        "a route priced by a pricer has no price_sat/price_msat",
                    ))
                }
                (_, _, Some(p)) => {
                    p.validate(&field("pricer"))?;
                    if r.x402.as_ref().is_some_and(|x| x.amount.is_some()) {
                        return Err(invalid(
                            field("x402"),
                            "a route priced by a pricer offers x402 over Lightning only \
                             (EVM prices are static token amounts)",
                        ));
                    }
                }
                _ => {}
            }
            if r.price_msat() > 21_000_000 * 100_000_000 * 1000 {
                return Err(invalid(field("price"), "absurd amount"));
            }
            if r.protocols.is_empty() {
                return Err(invalid(field("protocols"), "offer at least one protocol"));
            }
            for p in &r.protocols {
                if ProtocolId::parse(p).is_none() {
                    return Err(invalid(
                        field("protocols"),
                        format!("unknown protocol `{p}`"),
                    ));
                }
            }
            let uses_mpp = r
                .protocols
                .iter()
                .any(|p| ProtocolId::parse(p) == Some(ProtocolId::Mpp));
            if uses_mpp && r.price_msat() % 1000 != 0 {
                return Err(invalid(field("price"), "MPP prices are whole satoshis"));
            }
            for c in &r.capabilities {
                if c.is_empty() || c.contains([',', ' ', '=']) {
                    return Err(invalid(
                        field("capabilities"),
                        format!("bad capability `{c}`"),
                    ));
                }
            }
            if r.valid_for_secs == Some(0) {
                return Err(invalid(field("valid_for_secs"), "must be at least 1"));
            }
            self.validate_route_x402(r, &field)?;
        }
        if let Some(evm) = &self.evm {
            evm.validate()?;
        }
        if let Some(f) = self.facilitator.as_ref().filter(|f| f.enabled) {
            if !f.prefix.starts_with('/') || f.prefix.ends_with('/') {
                return Err(invalid(
                    "facilitator.prefix",
                    "must start and not end with '/'",
                ));
            }
            if self.evm.as_ref().and_then(|e| e.rpc_url.as_ref()).is_none() {
                return Err(invalid("facilitator", "needs [evm] rpc_url"));
            }
        }
        Ok(())
    }

    fn validate_route_x402(
        &self,
        r: &super::RouteConfig,
        field: &dyn Fn(&str) -> String,
    ) -> Result<(), ConfigError> {
        let offers = r
            .protocols
            .iter()
            .any(|p| ProtocolId::parse(p) == Some(ProtocolId::X402));
        let Some(x) = &r.x402 else {
            if offers {
                return Err(invalid(
                    field("x402"),
                    "protocol x402 needs an `x402 = {…}` table",
                ));
            }
            return Ok(());
        };
        if !offers {
            return Err(invalid(
                field("protocols"),
                "an `x402` table needs \"x402\" in protocols",
            ));
        }
        let price = x.evm_price().map_err(|m| invalid(field("x402"), m))?;
        if price.is_none() && !x.lightning {
            return Err(invalid(
                field("x402"),
                "set an EVM price and/or lightning = true",
            ));
        }
        if let Some(p) = price {
            match &self.evm {
                None => {
                    return Err(invalid(
                        field("x402"),
                        "an EVM price needs an [evm] section",
                    ))
                }
                Some(e) if e.chain_id != p.chain_id => {
                    return Err(invalid(
                        field("x402.network"),
                        "differs from [evm] chain_id",
                    ))
                }
                Some(_) => {}
            }
        }
        Ok(())
    }
}
