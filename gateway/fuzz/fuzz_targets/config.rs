//! Fuzz the gateway's TOML config: `Config::from_toml` then `validate` on arbitrary text
//! never panic; whatever validates parses again from the same text.
#![no_main]

use gate402::config::Config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(config) = Config::from_toml(text) {
        let _ = config.validate();
    }
});
