//! Builds the WebAssembly plugins the tests load, the way wasmtime's own
//! test programs are built: a nested `cargo build --target wasm32-wasip2`
//! into a target directory of its own (the outer build holds `target/`),
//! and the Python plugin with its own build script.

use std::path::{Path, PathBuf};
use std::process::Command;

const PLUGINS: &[(&str, &str)] = &[
    ("omni-webchat", "OMNI_TEST_WEBCHAT_WASM"),
    ("omni-test-hostile", "OMNI_TEST_HOSTILE_WASM"),
    ("omni-plugin-template", "OMNI_TEST_TEMPLATE_WASM"),
    ("omni-test-scripted", "OMNI_TEST_SCRIPTED_WASM"),
    ("omni-test-legacy", "OMNI_TEST_LEGACY_WASM"),
    ("omni-email", "OMNI_TEST_EMAIL_WASM"),
    ("omni-sms", "OMNI_TEST_SMS_WASM"),
    ("omni-voice", "OMNI_TEST_VOICE_WASM"),
    ("omni-whatsapp", "OMNI_TEST_WHATSAPP_WASM"),
    ("omni-messenger", "OMNI_TEST_MESSENGER_WASM"),
    ("omni-telegram", "OMNI_TEST_TELEGRAM_WASM"),
    ("omni-hubspot", "OMNI_TEST_HUBSPOT_WASM"),
    ("omni-salesforce", "OMNI_TEST_SALESFORCE_WASM"),
    ("omni-shopify", "OMNI_TEST_SHOPIFY_WASM"),
    ("omni-webhook-out", "OMNI_TEST_WEBHOOK_OUT_WASM"),
];

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let workspace = manifest_dir.parent().expect("tests/ sits in the workspace");
    println!("cargo:rerun-if-changed=build.rs");
    for watched in ["plugin-sdk", "plugins", "tests/plugins", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", workspace.join(watched).display());
    }
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"))
        .join("test-plugins");

    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace)
        .args([
            "build",
            "--profile",
            "plugin",
            "--target",
            "wasm32-wasip2",
            "--target-dir",
        ])
        .arg(&target_dir);
    for (package, _) in PLUGINS {
        command.args(["-p", package]);
    }
    // Settings meant for the outer build (clippy, coverage, a target) must
    // not leak into the plugin build.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_PRIMARY_PACKAGE",
    ] {
        command.env_remove(var);
    }
    let status = command.status().expect("cannot run cargo to build the test plugins");
    if !status.success() {
        panic!(
            "building the test plugins for wasm32-wasip2 failed (see above). \
             If the target is missing, run `rustup target add wasm32-wasip2`."
        );
    }
    for (package, var) in PLUGINS {
        let file = artifact(&target_dir, package);
        assert!(file.exists(), "{} was not built", file.display());
        println!("cargo:rustc-env={var}={}", file.display());
    }
    python_plugin(workspace, &target_dir);
}

/// The LINE connector is written in Python: its own script builds it with
/// componentize-py (installing that into `target/tools` on first use).
fn python_plugin(workspace: &Path, target_dir: &Path) {
    let out = target_dir.join("line.wasm");
    let tools = target_dir.parent().unwrap_or(target_dir).join("tools");
    let status = Command::new("bash")
        .arg(workspace.join("plugins/line/build.sh"))
        .arg(&out)
        .env("OMNI_TOOLS_DIR", tools)
        .status()
        .expect("cannot run bash to build the Python plugin");
    if !status.success() {
        panic!(
            "building plugins/line (Python, componentize-py) failed (see above); it needs python3 with \
             venv and pip, or COMPONENTIZE_PY pointing at a componentize-py 0.25.1"
        );
    }
    println!("cargo:rustc-env=OMNI_TEST_LINE_WASM={}", out.display());
}

fn artifact(target_dir: &Path, package: &str) -> PathBuf {
    target_dir
        .join("wasm32-wasip2")
        .join("plugin")
        .join(format!("{}.wasm", package.replace('-', "_")))
}
