//! The WebAssembly plugins built for the tests by `build.rs`.

use std::path::Path;

/// The web chat connector.
pub fn webchat() -> &'static Path {
    Path::new(env!("OMNI_TEST_WEBCHAT_WASM"))
}

/// The deliberately misbehaving plugin.
pub fn hostile() -> &'static Path {
    Path::new(env!("OMNI_TEST_HOSTILE_WASM"))
}

/// The plugin template from `plugin-sdk/template`.
pub fn template() -> &'static Path {
    Path::new(env!("OMNI_TEST_TEMPLATE_WASM"))
}

/// The scripted email-kind test plugin.
pub fn scripted() -> &'static Path {
    Path::new(env!("OMNI_TEST_SCRIPTED_WASM"))
}
