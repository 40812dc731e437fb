//! Validation of `[lightning] backend = "lnd"`: the single-node form, or several
//! `[[lightning.node]]` entries (named, unique, each complete), never both.

use std::collections::HashSet;

use super::validate::invalid;
use super::{ConfigError, LndSection};

/// Check the single form or every `[[lightning.node]]`.
pub(super) fn validate(lnd: &LndSection) -> Result<(), ConfigError> {
    if !lnd.is_multi() {
        return validate_one(lnd, "lightning");
    }
    if lnd.has_single_keys() {
        return Err(invalid(
            "lightning",
            "with [[lightning.node]] entries, set address/dir/tls_cert/macaroon in each node, \
             not in [lightning]",
        ));
    }
    let mut names = HashSet::new();
    for (i, node) in lnd.node.iter().enumerate() {
        let field = format!("lightning.node[{i}]");
        let name_ok = !node.name.is_empty()
            && node.name.len() <= 64
            && node
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !name_ok {
            return Err(invalid(
                format!("{field}.name"),
                "1-64 letters, digits, `-` or `_`",
            ));
        }
        if !names.insert(node.name.as_str()) {
            return Err(invalid(
                format!("{field}.name"),
                format!("node name {:?} is used twice", node.name),
            ));
        }
        validate_one(&node.as_section(lnd), &field)?;
    }
    Ok(())
}

fn validate_one(lnd: &LndSection, field: &str) -> Result<(), ConfigError> {
    let f = |key: &str| format!("{field}.{key}");
    if lnd.address.is_none() && lnd.dir.is_none() {
        return Err(invalid(f("address"), "set `address` or `dir`"));
    }
    if lnd.tls_cert.is_some() && lnd.tls_cert_env.is_some() {
        return Err(invalid(
            f("tls_cert"),
            "set tls_cert or tls_cert_env, not both",
        ));
    }
    if lnd.macaroon.is_some() && lnd.macaroon_env.is_some() {
        return Err(invalid(
            f("macaroon"),
            "set macaroon or macaroon_env, not both",
        ));
    }
    if lnd.dir.is_none() && lnd.tls_cert.is_none() && lnd.tls_cert_env.is_none() {
        return Err(invalid(f("tls_cert"), "a certificate is required"));
    }
    if lnd.dir.is_none() && lnd.macaroon.is_none() && lnd.macaroon_env.is_none() {
        return Err(invalid(f("macaroon"), "a macaroon is required"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, ConfigError, LightningConfig};

    const BASE: &str = "[server]\nlisten = \"127.0.0.1:0\"\nupstream = \"http://127.0.0.1:1\"\n";

    fn check(lightning: &str) -> Result<Config, ConfigError> {
        let c = Config::from_toml(&format!("{BASE}{lightning}"))?;
        c.validate()?;
        Ok(c)
    }

    fn field_of(r: Result<Config, ConfigError>) -> String {
        match r {
            Err(ConfigError::Invalid { field, .. }) => field,
            other => panic!("expected an invalid field, got {other:?}"),
        }
    }

    #[test]
    fn several_nodes_parse_and_validate() {
        let c = check(
            "[lightning]\nbackend = \"lnd\"\nrequire_least_privilege = true\n\
             [[lightning.node]]\nname = \"bob\"\ndir = \"d/bob\"\n\
             [[lightning.node]]\nname = \"carol\"\naddress = \"127.0.0.1:10009\"\n\
             tls_cert = \"c\"\nmacaroon = \"m\"\n",
        )
        .unwrap();
        let LightningConfig::Lnd(lnd) = c.lightning else {
            panic!("lnd backend")
        };
        assert_eq!(lnd.node.len(), 2);
        assert!(lnd.node[1].as_section(&lnd).require_least_privilege);
    }

    #[test]
    fn mistakes_name_the_node() {
        let node = "[lightning]\nbackend = \"lnd\"\n[[lightning.node]]\n";
        let r = check(&format!("{node}name = \"b\"\ndir = \"d\"\nport = 1\n"));
        assert!(matches!(r, Err(ConfigError::Parse(m)) if m.contains("port")));
        let r = check(&format!("{node}name = \"b\"\naddress = \"h:1\"\n"));
        assert_eq!(field_of(r), "lightning.node[0].tls_cert");
        let r = check(&format!("{node}name = \"b c\"\ndir = \"d\"\n"));
        assert_eq!(field_of(r), "lightning.node[0].name");
        let two = format!(
            "{node}name = \"b\"\ndir = \"d\"\n[[lightning.node]]\nname = \"b\"\ndir = \"e\"\n"
        );
        assert_eq!(field_of(check(&two)), "lightning.node[1].name");
        let mixed = "[lightning]\nbackend = \"lnd\"\ndir = \"d\"\n[[lightning.node]]\nname = \"b\"\ndir = \"d\"\n";
        assert_eq!(field_of(check(mixed)), "lightning");
        // The single form is unchanged.
        assert!(check("[lightning]\nbackend = \"lnd\"\ndir = \"d\"\n").is_ok());
        let r = check("[lightning]\nbackend = \"lnd\"\n");
        assert_eq!(field_of(r), "lightning.address");
    }
}
