//! `omni persons show|merge|split` against the database a host wrote.

use std::process::Command;

use omni_tests::process::{OmniProcess, omni_bin, plugin};
use omni_tests::wasm;
use serde_json::{Value, json};

fn omni_persons(dir: &std::path::Path, args: &[&str]) -> (i32, Value, String) {
    let output = Command::new(omni_bin())
        .args(["persons", "--config"])
        .arg(dir.join("omni.toml"))
        .args(args)
        .env("OMNI_LOG", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    (
        output.status.code().unwrap_or(-1),
        serde_json::from_str(&stdout).unwrap_or(Value::Null),
        stderr,
    )
}

#[tokio::test]
async fn operators_show_merge_and_split_from_the_command_line() {
    let omni = OmniProcess::start(&plugin("webchat", wasm::webchat(), "")).await;
    for (visitor, text) in [("v-1", "one"), ("v-2", "two")] {
        let body = json!({"visitor_id": visitor, "message_id": "m", "text": text});
        assert_eq!(omni.post_json("/hooks/webchat/messages", &body).await.0, 202);
    }
    let (_, page) = omni.api_get("/v1/conversations").await;
    let persons: Vec<String> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["person_id"].as_str().unwrap().to_owned())
        .collect();

    let (code, shown, err) = omni_persons(&omni.dir, &["show", &persons[0]]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(shown["person"]["id"], persons[0].as_str());
    assert_eq!(shown["suggestions"], json!([]));

    let (code, merged, err) = omni_persons(
        &omni.dir,
        &[
            "merge",
            &persons[0],
            &persons[1],
            "--reason",
            "same customer",
            "--by",
            "ops",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let link = merged["person"]["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["source_kind"] == "operator")
        .unwrap();
    assert_eq!(link["source"], "operator:ops");
    let survivor = merged["person"]["id"].as_str().unwrap().to_owned();

    let link_id = link["id"].to_string();
    let (code, split, err) = omni_persons(
        &omni.dir,
        &[
            "split",
            &survivor,
            "--link",
            &link_id,
            "--reason",
            "not the same",
            "--by",
            "ops",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(split["persons"].as_array().unwrap().len(), 2);

    let (code, _, err) = omni_persons(&omni.dir, &["split", &survivor, "--link", "999999", "--reason", "x"]);
    assert_eq!(code, 1);
    assert!(err.contains("has no active link 999999"), "{err}");
}
