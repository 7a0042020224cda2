//! The `omni` binary's command line, without plugins.

use std::process::Command;

fn omni(args: &[&str], config: Option<&str>) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_omni"));
    command.args(args).env("OMNI_LOG", "warn");
    if let Some(config) = config {
        let path = dir.path().join("omni.toml");
        std::fs::write(&path, config).unwrap();
        command.arg("--config").arg(path);
    }
    let output = command.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code().unwrap_or(-1), text)
}

#[test]
fn config_check_names_file_line_and_key() {
    let (code, out) = omni(
        &["config", "check"],
        Some("[server]\nlisten = \"127.0.0.1:1\"\nlisen = 1\n"),
    );
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("omni.toml:3:"), "{out}");
    assert!(out.contains("unknown field `lisen`"), "{out}");

    let (code, out) = omni(&["config", "check"], Some("[storage]\ndatabase_url = \"mysql://x\"\n"));
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("omni.toml:2:") && out.contains("storage.database_url"),
        "{out}"
    );
}

#[test]
fn config_check_accepts_a_minimal_config() {
    let (code, out) = omni(&["config", "check"], Some(""));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("is valid (0 plugins)"), "{out}");
}

#[test]
fn a_missing_config_file_is_named() {
    let (code, out) = omni(&["run", "--config", "/nonexistent/omni.toml"], None);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("cannot read config file /nonexistent/omni.toml"), "{out}");
}

#[test]
fn migrate_creates_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("omni.toml");
    std::fs::write(&path, "").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_omni"))
        .args(["migrate", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(dir.path().join("data/omni.db").exists());
}

#[test]
fn openapi_prints_the_document() {
    let (code, out) = omni(&["openapi"], None);
    assert_eq!(code, 0);
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(doc["paths"]["/v1/conversations/{id}/messages"]["post"].is_object());
}
