//! Hostile plugins fail alone: every bad call gets a clear error, and the
//! host and the other plugins keep serving.

use std::time::{Duration, Instant};

use omni_tests::process::{OmniProcess, plugin};
use omni_tests::wasm;
use serde_json::{Value, json};

async fn hostile_host() -> OmniProcess {
    hostile_host_with("fresh", 1000).await
}

/// The hostile plugin under an instance policy, beside a web chat.
async fn hostile_host_with(policy: &str, max_calls: u32) -> OmniProcess {
    let config = format!(
        "{}{}",
        plugin(
            "hostile",
            wasm::hostile(),
            &format!(
                "limits = {{ timeout_ms = 300 }}\nsecrets = {{ declared = {{ env = \"OMNI_TEST_SECRET\" }} }}\n\
                 instances = {{ policy = \"{policy}\", max_calls = {max_calls} }}"
            )
        ),
        plugin("webchat", wasm::webchat(), "")
    );
    OmniProcess::start(&config).await
}

fn error_code(body: &str) -> (String, String) {
    let value: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("not a JSON error: {body}"));
    (
        value["error"]["code"].as_str().unwrap_or_default().to_owned(),
        value["error"]["message"].as_str().unwrap_or_default().to_owned(),
    )
}

/// The host still answers, the hostile plugin still works for good calls,
/// and the other plugin is untouched.
async fn assert_healthy(omni: &mut OmniProcess, round: usize) {
    assert!(omni.is_running(), "omni died:\n{}", omni.logs());
    let (status, body) = omni.get(&format!("/hooks/hostile/ok?id=ok-{round}")).await;
    assert_eq!((status, body.as_str()), (200, "ok"));
    let message = json!({"visitor_id": "v-1", "message_id": format!("m-{round}"), "text": "still there?"});
    let (status, body) = omni.post_json("/hooks/webchat/messages", &message).await;
    assert_eq!(status, 202, "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn each_kind_of_misbehaviour_fails_only_its_own_call() {
    misbehaviour_fails_alone(hostile_host().await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn each_kind_of_misbehaviour_fails_only_its_own_call_on_warm_instances() {
    misbehaviour_fails_alone(hostile_host_with("warm", 1000).await).await;
}

async fn misbehaviour_fails_alone(mut omni: OmniProcess) {
    let cases: &[(&str, u16, &str, &str)] = &[
        ("/loop", 504, "plugin_timeout", "did not finish within"),
        ("/alloc", 500, "plugin_memory_limit", "memory"),
        ("/alloc-slow", 500, "plugin_memory_limit", "limit is 67108864 bytes"),
        ("/trap", 500, "plugin_crashed", "hostile plugin panicked on purpose"),
        ("/huge", 502, "plugin_invalid_output", "over the 1048576-byte limit"),
        ("/many-events", 502, "plugin_invalid_output", "20000 events"),
        ("/huge-text", 422, "invalid_event", "text has 4194304 bytes"),
        ("/bad-sender", 422, "invalid_event", "not a valid phone number"),
        ("/bad-status", 502, "plugin_invalid_output", "out of range"),
        ("/kv-flood", 500, "plugin_error", "quota"),
        ("/kv-huge", 500, "plugin_error", "too large"),
        ("/refuse", 401, "unauthorized", "signature mismatch"),
        ("/nope", 404, "not_found", "no such hostile behaviour"),
    ];
    for (round, (path, status, code, needle)) in cases.iter().enumerate() {
        let started = Instant::now();
        let (got, body) = omni.get(&format!("/hooks/hostile{path}")).await;
        let (got_code, message) = error_code(&body);
        assert_eq!((got, got_code.as_str()), (*status, *code), "{path}: {body}");
        assert!(message.contains(needle), "{path}: {message}");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{path} took {:?}",
            started.elapsed()
        );
        assert_healthy(&mut omni, round).await;
    }
    let logs = omni.logs();
    assert!(logs.contains("plugin_timeout"), "failures are logged with their code");
}

#[tokio::test(flavor = "multi_thread")]
async fn floods_of_logs_and_stderr_are_capped() {
    let mut omni = hostile_host().await;
    let (status, body) = omni.get("/hooks/hostile/log-flood").await;
    assert_eq!((status, body.as_str()), (200, "logged"), "{body}");
    let (status, body) = omni.get("/hooks/hostile/stderr-flood").await;
    assert_eq!((status, body.as_str()), (200, "printed"), "{body}");
    let logs = omni.logs();
    assert!(logs.contains("more log lines than allowed"), "{logs}");
    assert!(
        logs.matches("line ").count() <= 100,
        "plugin log lines are capped per call"
    );
    assert_healthy(&mut omni, 0).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_are_only_given_when_declared() {
    let omni = hostile_host().await;
    let (_, body) = omni.get("/hooks/hostile/declared-secret").await;
    assert_eq!(body, "Some(\"s3cret\")");
    let (_, body) = omni.get("/hooks/hostile/undeclared-secret").await;
    assert_eq!(body, "None");
    assert!(omni.logs().contains("does not declare"), "{}", omni.logs());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_looping_plugin_does_not_stall_other_calls() {
    let mut omni = hostile_host().await;
    // Keep every worker busy with loops, then check normal calls still go through.
    let mut loops = Vec::new();
    for _ in 0..8 {
        let client = omni.client.clone();
        let url = omni.url("/hooks/hostile/loop");
        loops.push(tokio::spawn(async move {
            client.get(url).send().await.map(|r| r.status().as_u16())
        }));
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = Instant::now();
    assert_healthy(&mut omni, 99).await;
    let healthy_after = started.elapsed();
    for task in loops {
        assert_eq!(task.await.unwrap().unwrap(), 504);
    }
    assert!(
        healthy_after < Duration::from_secs(5),
        "normal calls waited {healthy_after:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_read_modify_write_loses_no_update() {
    let omni = hostile_host().await;
    let mut tasks = Vec::new();
    for i in 0..20 {
        let client = omni.client.clone();
        let url = omni.url(&format!("/hooks/hostile/counter?id={i}"));
        tasks.push(tokio::spawn(async move {
            client.get(url).send().await.unwrap().status().as_u16()
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), 200);
    }
    let (status, body) = omni.get("/hooks/hostile/counter?id=last").await;
    assert_eq!((status, body.as_str()), (200, "21"));
}

async fn calls(omni: &OmniProcess) -> String {
    let (status, body) = omni.get("/hooks/hostile/calls").await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test(flavor = "multi_thread")]
async fn warm_instances_are_reused_and_recycled_after_a_failure_or_max_calls() {
    let omni = hostile_host_with("warm", 4).await;
    // One instance serves calls in turn (requests are sequential here).
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(calls(&omni).await);
    }
    assert_eq!(seen, ["1", "2", "3"]);
    // A trap drops the instance: the next call starts from scratch.
    let (status, _) = omni.get("/hooks/hostile/trap").await;
    assert_eq!(status, 500);
    assert_eq!(calls(&omni).await, "1");
    // So does a timeout, and reaching max_calls (4).
    let (status, _) = omni.get("/hooks/hostile/loop").await;
    assert_eq!(status, 504);
    let mut seen = Vec::new();
    for _ in 0..6 {
        seen.push(calls(&omni).await);
    }
    assert_eq!(seen, ["1", "2", "3", "4", "1", "2"]);

    let fresh = hostile_host_with("fresh", 4).await;
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(calls(&fresh).await);
    }
    assert_eq!(seen, ["1", "1", "1"], "a fresh instance per call keeps nothing");
}

#[tokio::test(flavor = "multi_thread")]
async fn per_call_quotas_start_afresh_on_a_warm_instance() {
    // 64 key-value writes are allowed per call; a warm instance serving 70
    // calls of one write each must never hit that quota.
    let omni = hostile_host_with("warm", 1000).await;
    assert_eq!(calls(&omni).await, "1");
    for i in 1..=70 {
        let (status, body) = omni.get(&format!("/hooks/hostile/counter?id={i}")).await;
        assert_eq!((status, body), (200, i.to_string()));
    }
    assert_eq!(
        calls(&omni).await,
        "2",
        "the counter calls ran on this one warm instance"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plugin_learns_its_instance_id() {
    let omni = hostile_host().await;
    let (status, body) = omni.get("/hooks/hostile/instance-id").await;
    assert_eq!((status, body.as_str()), (200, "hostile"));
}
