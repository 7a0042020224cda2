//! `omni config check` names the file, line and key of every mistake,
//! including plugin config that breaks the plugin's own schema.

use std::process::Command;

use omni_tests::process::omni_bin;
use omni_tests::wasm;

fn check(config: &str) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("omni.toml");
    std::fs::write(&path, config).unwrap();
    let output = Command::new(omni_bin())
        .args(["config", "check", "--config"])
        .arg(&path)
        .env("OMNI_LOG", "warn")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code().unwrap_or(-1), text)
}

fn webchat(extra: &str) -> String {
    format!(
        "[[plugins]]\nid = \"webchat\"\nwasm = \"{}\"\n{extra}",
        wasm::webchat().display()
    )
}

#[test]
fn a_valid_config_passes() {
    let (code, out) = check(&webchat("config = { title = \"Acme\" }\n"));
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("plugin webchat: webchat 0.1.0 (channel webchat) ok"),
        "{out}"
    );
}

#[test]
fn a_value_against_the_plugins_schema_names_line_and_key() {
    let (code, out) = check(&webchat(
        "\n[plugins.config]\ntitle = \"ok\"\nallowed_origins = \"everyone\"\n",
    ));
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("omni.toml:7:"), "{out}");
    assert!(out.contains("plugins[0].config.allowed_origins"), "{out}");
    assert!(out.contains("is not of type \"array\""), "{out}");
}

#[test]
fn an_unknown_plugin_config_key_is_refused() {
    let (code, out) = check(&webchat("\n[plugins.config]\ntitel = \"typo\"\n"));
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("omni.toml:6:"), "{out}");
    assert!(out.contains("titel"), "{out}");
}

#[test]
fn a_secret_the_plugin_does_not_use_is_refused() {
    let config = webchat("secrets = { api_key = { env = \"PATH\" } }\n");
    let (code, out) = check(&config);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("plugins[0].secrets.api_key"), "{out}");
}

#[test]
fn missing_and_broken_plugin_files_are_named() {
    let (code, out) = check("[[plugins]]\nid = \"x\"\nwasm = \"nowhere.wasm\"\n");
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("cannot read plugin") && out.contains("nowhere.wasm"),
        "{out}"
    );

    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.wasm");
    std::fs::write(&junk, b"not wasm").unwrap();
    let (code, out) = check(&format!("[[plugins]]\nid = \"x\"\nwasm = \"{}\"\n", junk.display()));
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("is not a valid WebAssembly component"), "{out}");
}

#[test]
fn the_plugin_template_builds_loads_and_describes_itself() {
    let output = Command::new(omni_bin())
        .args(["plugin", "inspect"])
        .arg(wasm::template())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(text.contains("plugin:      template 0.1.0 (Template SMS)"), "{text}");
    let contract = format!(
        "omni:plugin/connector@{}",
        omni_host::runtime::bindings::CONTRACT_VERSION
    );
    assert!(text.contains(&contract), "built with the SDK's contract: {text}");
}

#[test]
fn the_channels_example_passes_with_its_secrets_set() {
    let example = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/channels.toml")).unwrap();
    // The example points at `cargo build-plugins` output; use the test builds.
    let plugins = [
        ("omni_webchat", wasm::webchat()),
        ("omni_email", wasm::email()),
        ("omni_sms", wasm::sms()),
        ("omni_voice", wasm::voice()),
        ("omni_whatsapp", wasm::whatsapp()),
        ("omni_messenger", wasm::messenger()),
        ("omni_telegram", wasm::telegram()),
        ("omni_hubspot", wasm::hubspot()),
        ("omni_salesforce", wasm::salesforce()),
        ("omni_shopify", wasm::shopify()),
        ("omni_webhook_out", wasm::webhook_out()),
    ];
    let mut config = example.clone();
    for (name, path) in plugins {
        let built = format!("../target/wasm32-wasip2/plugin/{name}.wasm");
        assert!(config.contains(&built), "the example has no {name}");
        config = config.replace(&built, &path.display().to_string());
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("channels.toml");
    std::fs::write(&path, config).unwrap();
    let mut command = Command::new(omni_bin());
    command
        .args(["config", "check", "--config"])
        .arg(&path)
        .env("OMNI_LOG", "warn");
    let variables = example
        .split("env = \"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next());
    for variable in variables {
        command.env(variable, "example-value");
    }
    let output = command.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.status.code(), Some(0), "{text}");
    for id in ["webchat", "email", "sms", "voice", "whatsapp", "messenger", "telegram"] {
        assert!(text.contains(&format!("plugin {id}: ")), "{text}");
    }
    for id in ["hubspot", "salesforce", "shopify", "campaigns"] {
        assert!(
            text.contains(&format!("plugin {id}: ")) && text.contains("(integration) ok"),
            "{text}"
        );
    }
}

#[test]
fn a_subscribe_table_on_a_channel_connector_is_refused_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("omni.toml");
    let config = format!(
        "[[plugins]]\nid = \"webchat\"\nwasm = \"{}\"\n[plugins.subscribe]\nevents = [\"person.*\"]\n",
        wasm::webchat().display()
    );
    std::fs::write(&path, config).unwrap();
    let output = Command::new(omni_bin())
        .args(["config", "check", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(text.contains("omni.toml:4"), "{text}");
    assert!(text.contains("plugins[0].subscribe"), "{text}");
    assert!(text.contains("only integrations"), "{text}");
}
