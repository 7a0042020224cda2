//! The conformance kit (`omni plugin test`) against every in-tree plugin
//! with its own fixtures, and against a deliberately sloppy plugin, in the
//! three output formats.

use std::path::Path;
use std::process::Command;

use omni_tests::process::omni_bin;
use omni_tests::wasm;
use serde_json::Value;

fn fixtures(plugin: &str) -> String {
    format!(
        "{}/../plugins/{plugin}/fixtures/conformance",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// Runs the kit with JSON output; returns the exit code and the report.
fn kit(wasm: &Path, args: &[&str]) -> (Option<i32>, Value) {
    let output = Command::new(omni_bin())
        .args(["plugin", "test"])
        .arg(wasm)
        .args(["--format", "json", "--mutations", "300"])
        .args(args)
        .env("OMNI_LOG", "error")
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "not a JSON report ({e}): {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output.status.code(), report)
}

fn failures(report: &Value) -> Vec<String> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "fail")
        .map(|c| format!("{}: {}", c["name"].as_str().unwrap(), c["message"].as_str().unwrap()))
        .collect()
}

#[test]
fn every_in_tree_plugin_passes_the_kit_with_its_fixtures() {
    let plugins: [(&str, &Path); 12] = [
        ("webchat", wasm::webchat()),
        ("email", wasm::email()),
        ("sms", wasm::sms()),
        ("voice", wasm::voice()),
        ("whatsapp", wasm::whatsapp()),
        ("messenger", wasm::messenger()),
        ("telegram", wasm::telegram()),
        ("hubspot", wasm::hubspot()),
        ("salesforce", wasm::salesforce()),
        ("shopify", wasm::shopify()),
        ("webhook-out", wasm::webhook_out()),
        // In Python (componentize-py): the contract is language-neutral.
        ("line", wasm::line()),
    ];
    for (name, path) in plugins {
        let (code, report) = kit(path, &["--fixtures", &fixtures(name)]);
        assert_eq!(code, Some(0), "{name} fails the kit: {:#?}", failures(&report));
        let checks = report["checks"].as_array().unwrap();
        let names: Vec<&str> = checks.iter().map(|c| c["name"].as_str().unwrap()).collect();
        for expected in [
            "contract",
            "manifest",
            "config: sample accepted",
            "config: violations refused",
            "robustness: mutated fixtures",
            "capabilities",
            "resource profile",
        ] {
            assert!(names.contains(&expected), "{name}: no {expected:?} check in {names:?}");
        }
    }
}

#[test]
fn the_plugin_template_passes_the_kit_with_its_fixtures() {
    let fixtures = format!(
        "{}/../plugin-sdk/template/fixtures/conformance",
        env!("CARGO_MANIFEST_DIR")
    );
    let (code, report) = kit(wasm::template(), &["--fixtures", &fixtures]);
    assert_eq!(code, Some(0), "{:#?}", failures(&report));
    let passed: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "pass")
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(passed.contains(&"fixture: a signed message"), "{passed:?}");
    assert!(passed.contains(&"robustness: forged signature"), "{passed:?}");
}

#[test]
fn a_sloppy_plugin_fails_the_checks_it_breaks_with_an_actionable_message() {
    // The hostile test plugin's schema accepts any key.
    let (code, report) = kit(wasm::hostile(), &[]);
    assert_eq!(code, Some(1), "{report:#}");
    let failed = failures(&report);
    assert!(
        failed
            .iter()
            .any(|f| f.starts_with("manifest: ") && f.contains("\"additionalProperties\": false")),
        "{failed:#?}"
    );
    assert!(
        failed
            .iter()
            .any(|f| f.starts_with("config: violations refused: ") && f.contains("conformance_unknown_key")),
        "{failed:#?}"
    );
}

#[test]
fn a_plugin_without_its_sample_config_is_told_how_to_give_one() {
    let (code, report) = kit(wasm::sms(), &[]);
    assert_eq!(code, Some(1));
    let failed = failures(&report);
    assert_eq!(failed.len(), 1, "{failed:#?}");
    assert!(
        failed[0].contains("account_sid") && failed[0].contains("--fixtures"),
        "{failed:#?}"
    );
}

#[test]
fn the_report_comes_as_junit_for_ci_systems() {
    let output = Command::new(omni_bin())
        .args(["plugin", "test"])
        .arg(wasm::telegram())
        .args([
            "--fixtures",
            &fixtures("telegram"),
            "--format",
            "junit",
            "--mutations",
            "50",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let xml = String::from_utf8_lossy(&output.stdout);
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert!(
        xml.contains("<testsuite name=\"omni plugin test telegram 0.1.0\""),
        "{xml}"
    );
    assert!(xml.contains("failures=\"0\""), "{xml}");
    assert!(
        xml.contains("<testcase classname=\"omni.conformance\" name=\"fixture: a text message"),
        "{xml}"
    );
}

#[test]
fn an_upgrade_must_raise_the_version_and_keep_the_cases_passing() {
    let previous = wasm::webchat().display().to_string();
    let (code, report) = kit(
        wasm::webchat(),
        &["--fixtures", &fixtures("webchat"), "--previous", &previous],
    );
    assert_eq!(code, Some(1), "{report:#}");
    let failed = failures(&report);
    assert_eq!(failed.len(), 1, "{failed:#?}");
    assert!(
        failed[0].starts_with("upgrade safety: ")
            && failed[0].contains("the version does not increase (0.1.0 -> 0.1.0)"),
        "{failed:#?}"
    );
}

#[test]
fn each_broken_behaviour_fails_the_check_that_targets_it() {
    let cases = [
        ("trap", "robustness: mutated fixtures", "trap"),
        ("alloc", "robustness: mutated fixtures", "memory"),
        ("huge", "fixture: huge", "invalid response"),
        ("undeclared-secret", "capabilities", "secret-get(not_declared)"),
        ("undeclared-host", "capabilities", "http-send(tracker.example.net)"),
        ("random-id", "determinism", "external ids must be the provider's"),
    ];
    for (behaviour, check, words) in cases {
        let dir = format!("{}/plugins/hostile/fixtures/{behaviour}", env!("CARGO_MANIFEST_DIR"));
        let (code, report) = kit(wasm::hostile(), &["--fixtures", &dir]);
        assert_eq!(code, Some(1), "{behaviour}: {report:#}");
        let failed = failures(&report);
        assert!(
            failed
                .iter()
                .any(|f| f.starts_with(&format!("{check}: ")) && f.contains(words)),
            "{behaviour} should fail {check:?} mentioning {words:?}: {failed:#?}"
        );
    }
}

fn inspect(wasm: &Path) -> String {
    let output = Command::new(omni_bin())
        .args(["plugin", "inspect"])
        .arg(wasm)
        .env("OMNI_LOG", "error")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn a_plugin_built_against_the_first_contract_loads_and_passes_after_a_minor_bump() {
    // Built with bare wit-bindgen against the frozen 0.1.0 file, while the
    // host and the SDK follow the newer contract.
    let shown = inspect(wasm::legacy());
    assert!(shown.contains("omni:plugin/host@0.1.0"), "{shown}");
    assert!(shown.contains("omni:plugin/connector@0.1.0"), "{shown}");
    let contract = shown
        .lines()
        .find(|l| l.starts_with("contract:"))
        .unwrap_or_else(|| panic!("no contract line: {shown}"));
    assert!(
        contract.contains("omni:plugin@0.1.0") && !contract.contains("this host: 0.1.0"),
        "the host must be on a newer minor than the plugin: {contract}"
    );

    let fixtures = format!("{}/plugins/legacy/fixtures/conformance", env!("CARGO_MANIFEST_DIR"));
    let (code, report) = kit(wasm::legacy(), &["--fixtures", &fixtures]);
    assert_eq!(code, Some(0), "{:#?}", failures(&report));
}

#[test]
fn inspect_names_the_contract_and_the_instance_policy_the_host_would_pick() {
    let shown = inspect(wasm::telegram());
    let contract = shown.lines().find(|l| l.starts_with("contract:")).unwrap();
    assert!(contract.contains("omni:plugin@0.1.1"), "{contract}");
    let instances = shown.lines().find(|l| l.starts_with("instances:")).unwrap();
    assert!(instances.contains("fresh instance per call"), "{instances}");
}
