//! The config parser (`omni_host::config::Config::parse`) on arbitrary
//! UTF-8. It must refuse bad input with an error, never panic.
//!
//! Secret references resolve to a value (so that the rest of the config is
//! checked too), except names starting with `UNSET`, which stay unset.
//!
//! Needs omni-host and so wasmtime: `cargo fuzz build --features host config`.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use omni_host::config::Config;

fn env(name: &str) -> Option<String> {
    (!name.starts_with("UNSET")).then(|| format!("fuzz-value-of-{name}"))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(error) = Config::parse(Path::new("/srv/omni/omni.toml"), text, &env) {
        let _ = error.to_string();
    }
});
