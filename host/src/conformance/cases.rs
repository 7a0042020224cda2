//! A plugin's conformance fixtures: a directory with `config.toml` (a
//! sample instance config and test secrets) and `*.json` webhook cases, each
//! a request in and the expected response status and events out.
//!
//! ```json
//! {
//!   "name": "an incoming message",
//!   "request": {"method": "POST", "path": "/messages",
//!               "headers": {"content-type": "application/json"},
//!               "body": "{\"visitor_id\":\"v1\",\"message_id\":\"m1\",\"text\":\"hi\"}"},
//!   "expect": {"status": 202,
//!              "events": [{"type": "message-received", "external_id": "v1/m1"}]}
//! }
//! ```
//!
//! `body_base64` or `body_file` (relative to the case) replace `body`.
//! Expected events match when each listed field equals the actual one
//! (objects recursively); the number of events must be the same.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::runtime::bindings::wit;

/// The sample instance config and the secrets to run with.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sample {
    /// The `[plugins.config]` table an operator would write.
    #[serde(default)]
    pub config: Map<String, Value>,
    /// Test values of the plugin's secrets.
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
    /// What the operator would write in `[plugins.limits]`.
    #[serde(default)]
    pub limits: SampleLimits,
    /// What the operator would write in `[plugins.instances]`.
    #[serde(default)]
    pub instances: SampleInstances,
}

/// `[limits]` of a sample: the plugin's needs beyond the host's defaults.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SampleLimits {
    /// Linear memory, in MiB.
    pub memory_mb: Option<usize>,
    /// Time per call, in milliseconds.
    pub timeout_ms: Option<u64>,
}

impl SampleLimits {
    /// The host's defaults with these changes.
    pub fn apply(&self, mut limits: crate::runtime::Limits) -> crate::runtime::Limits {
        if let Some(mb) = self.memory_mb {
            limits.memory_bytes = mb.clamp(1, 4096) * 1024 * 1024;
        }
        if let Some(ms) = self.timeout_ms {
            limits.timeout = std::time::Duration::from_millis(ms.clamp(1, 600_000));
        }
        limits
    }
}

/// `[instances]` of a sample.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SampleInstances {
    /// `auto`, `fresh` or `warm`.
    pub policy: Option<crate::runtime::PolicyChoice>,
    /// Calls per warm instance.
    pub max_calls: Option<u32>,
}

impl SampleInstances {
    /// The instance config this sample asks for.
    pub fn config(&self) -> crate::runtime::InstanceConfig {
        let defaults = crate::runtime::InstanceConfig::default();
        crate::runtime::InstanceConfig {
            policy: self.policy.unwrap_or(defaults.policy),
            max_calls: self.max_calls.unwrap_or(defaults.max_calls),
        }
    }
}

/// One webhook case.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// What it shows, e.g. `an incoming SMS`.
    pub name: String,
    /// The request.
    pub request: CaseRequest,
    /// What must come out.
    #[serde(default)]
    pub expect: Expect,
}

/// The request of a case.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseRequest {
    /// HTTP method (default `POST`).
    #[serde(default = "post")]
    pub method: String,
    /// Path below `/hooks/{instance}`.
    pub path: String,
    /// Query string without `?`.
    #[serde(default)]
    pub query: String,
    /// Headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Body as text.
    pub body: Option<String>,
    /// Body as base64.
    pub body_base64: Option<String>,
    /// Body from a file next to the case.
    pub body_file: Option<String>,
}

fn post() -> String {
    "POST".to_owned()
}

/// What a case expects.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// The response status (a refusal's status for an error result).
    pub status: Option<u16>,
    /// The events, in order; absent: not checked.
    pub events: Option<Vec<Value>>,
}

/// A send case (`*.send.json`): a message the business sends, the
/// provider's scripted answers, and the requests and receipt expected.
///
/// ```json
/// {
///   "name": "a reply by SMS",
///   "message": {"id": "msg-1", "conversation_id": "conv-1", "text": "On its way"},
///   "recipient": {"kind": "phone", "value": "+14155550100"},
///   "answers": [{"status": 201, "body_file": "../message-created.json"}],
///   "expect": {"requests": [{"method": "POST", "url": "https://api.twilio.com/…/Messages.json"}],
///              "receipt": {"external_id": "SM…", "state": "sent"}}
/// }
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendCase {
    /// What it shows.
    pub name: String,
    /// The message.
    pub message: SendMessage,
    /// Where it goes.
    pub recipient: Recipient,
    /// The provider's answers to the plugin's requests, in order; after
    /// them every request gets 503.
    #[serde(default)]
    pub answers: Vec<AnswerSpec>,
    /// What must come out.
    #[serde(default)]
    pub expect: SendExpect,
}

/// The outbound message of a send case.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendMessage {
    /// The host's message id (the idempotency key).
    pub id: String,
    /// The conversation.
    pub conversation_id: String,
    /// Text.
    pub text: String,
    /// The last inbound external id, for threading.
    pub reply_to: Option<String>,
    /// The channel's thread id.
    pub thread_id: Option<String>,
}

/// The recipient of a send case.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipient {
    /// `email`, `phone`, `channel-user`, `crm-id` or `external-id`.
    pub kind: String,
    /// The address.
    pub value: String,
    /// Whether it is proven.
    #[serde(default)]
    pub verified: bool,
}

/// A scripted provider answer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerSpec {
    /// Status code.
    pub status: u16,
    /// Headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Body as text.
    pub body: Option<String>,
    /// Body from a file next to the case.
    pub body_file: Option<String>,
}

/// What a send case expects.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendExpect {
    /// The plugin's requests, in order, as `{"method", "url"}`; absent: not checked.
    pub requests: Option<Vec<Value>>,
    /// Fields of the receipt (`external_id`, `state`).
    pub receipt: Option<Value>,
    /// `retryable` or `permanent` when the send must fail.
    pub error: Option<String>,
}

/// A loaded send case, ready to run.
#[derive(Debug, Clone)]
pub struct LoadedSend {
    /// The file.
    pub file: PathBuf,
    /// The case.
    pub case: SendCase,
    /// The message as the host passes it.
    pub message: wit::OutboundMessage,
    /// The recipient as the host passes it.
    pub recipient: wit::Identity,
    /// The scripted answers.
    pub answers: Vec<crate::runtime::offline::Answer>,
}

/// A loaded case with its request ready to send.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The file.
    pub file: PathBuf,
    /// The case.
    pub case: Case,
    /// The request as the host passes it.
    pub request: wit::HttpRequest,
}

/// Everything in a fixtures directory.
#[derive(Debug, Clone, Default)]
pub struct Fixtures {
    /// The sample config, when `config.toml` exists.
    pub sample: Option<Sample>,
    /// Webhook cases.
    pub webhooks: Vec<Loaded>,
    /// Send cases.
    pub sends: Vec<LoadedSend>,
}

/// Reads `dir`: the sample, `*.json` webhook cases and `*.send.json` send cases, sorted by name.
pub fn load_all(dir: &Path) -> Result<Fixtures, String> {
    let (sample, webhooks) = load(dir)?;
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| is_send_case(path))
        .collect();
    files.sort();
    let mut sends = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let case: SendCase = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))?;
        let recipient = wit::Identity {
            kind: match case.recipient.kind.as_str() {
                "email" => wit::IdentityKind::Email,
                "phone" => wit::IdentityKind::Phone,
                "channel-user" => wit::IdentityKind::ChannelUser,
                "crm-id" => wit::IdentityKind::CrmId,
                "external-id" => wit::IdentityKind::ExternalId,
                other => return Err(format!("{}: unknown recipient kind {other:?}", file.display())),
            },
            value: case.recipient.value.clone(),
            verified: case.recipient.verified,
        };
        let message = wit::OutboundMessage {
            id: case.message.id.clone(),
            conversation_id: case.message.conversation_id.clone(),
            text: case.message.text.clone(),
            attachments: Vec::new(),
            reply_to: case.message.reply_to.clone(),
            thread_id: case.message.thread_id.clone(),
        };
        let mut answers = Vec::new();
        for answer in &case.answers {
            let body = match (&answer.body, &answer.body_file) {
                (Some(text), None) => text.clone().into_bytes(),
                (None, Some(name)) => {
                    let path = file.parent().unwrap_or(Path::new(".")).join(name);
                    std::fs::read(&path)
                        .map_err(|e| format!("{}: body_file {}: {e}", file.display(), path.display()))?
                }
                (None, None) => Vec::new(),
                _ => return Err(format!("{}: give body or body_file, not both", file.display())),
            };
            answers.push(crate::runtime::offline::Answer {
                status: answer.status,
                headers: answer
                    .headers
                    .iter()
                    .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
                    .collect(),
                body,
            });
        }
        sends.push(LoadedSend {
            file,
            case,
            message,
            recipient,
            answers,
        });
    }
    Ok(Fixtures {
        sample,
        webhooks,
        sends,
    })
}

fn is_send_case(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with(".send.json"))
}

/// Reads `dir`: the sample (if `config.toml` exists) and every `*.json` webhook case, sorted by name.
pub fn load(dir: &Path) -> Result<(Option<Sample>, Vec<Loaded>), String> {
    let sample = match std::fs::read_to_string(dir.join("config.toml")) {
        Ok(text) => {
            Some(toml::from_str::<Sample>(&text).map_err(|e| format!("{}: {e}", dir.join("config.toml").display()))?)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(format!("{}: {e}", dir.join("config.toml").display())),
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "json") && !is_send_case(path))
        .collect();
    files.sort();
    let mut cases = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let case: Case = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))?;
        let request = request(&file, &case.request)?;
        cases.push(Loaded { file, case, request });
    }
    Ok((sample, cases))
}

fn request(file: &Path, r: &CaseRequest) -> Result<wit::HttpRequest, String> {
    let body = match (&r.body, &r.body_base64, &r.body_file) {
        (Some(text), None, None) => text.clone().into_bytes(),
        (None, Some(b64), None) => {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|e| format!("{}: body_base64: {e}", file.display()))?
        }
        (None, None, Some(name)) => {
            let path = file.parent().unwrap_or(Path::new(".")).join(name);
            std::fs::read(&path).map_err(|e| format!("{}: body_file {}: {e}", file.display(), path.display()))?
        }
        (None, None, None) => Vec::new(),
        _ => return Err(format!("{}: give one of body, body_base64, body_file", file.display())),
    };
    if !r.path.starts_with('/') {
        return Err(format!("{}: path must start with /", file.display()));
    }
    Ok(wit::HttpRequest {
        method: r.method.to_ascii_uppercase(),
        path: r.path.clone(),
        query: r.query.clone(),
        headers: r
            .headers
            .iter()
            .map(|(name, value)| wit::Header {
                name: name.to_ascii_lowercase(),
                value: value.clone(),
            })
            .collect(),
        body,
    })
}

/// Whether every field of `expected` equals the one in `actual` (objects recursively).
pub fn matches(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => e.iter().all(|(k, v)| a.get(k).is_some_and(|av| matches(v, av))),
        _ => expected == actual,
    }
}

fn identity(i: &wit::Identity) -> Value {
    let kind = match i.kind {
        wit::IdentityKind::Email => "email",
        wit::IdentityKind::Phone => "phone",
        wit::IdentityKind::ChannelUser => "channel-user",
        wit::IdentityKind::CrmId => "crm-id",
        wit::IdentityKind::ExternalId => "external-id",
    };
    json!({"kind": kind, "value": i.value, "verified": i.verified})
}

/// An event as JSON, in the SDK's serde shape (`type` in kebab case).
pub fn event_json(event: &wit::Event) -> Value {
    let identities = |list: &[wit::Identity]| list.iter().map(identity).collect::<Vec<_>>();
    match event {
        wit::Event::MessageReceived(m) => json!({
            "type": "message-received", "external_id": m.external_id, "sender": identity(&m.sender),
            "claims": identities(&m.claims), "display_name": m.display_name, "text": m.text,
            "attachments": m.attachments.len(), "thread_id": m.thread_id, "reply_to": m.reply_to,
            "references": m.references, "sent_at": m.sent_at,
        }),
        wit::Event::DeliveryStatus(s) => json!({
            "type": "delivery-status", "external_id": s.external_id,
            "state": state_name(s.state), "error": s.error, "at": s.at,
        }),
        wit::Event::ContactProfile(p) => json!({
            "type": "contact-profile", "subject": identity(&p.subject), "display_name": p.display_name,
            "claims": identities(&p.claims),
        }),
        wit::Event::Activity(a) => json!({
            "type": "activity", "subject": identity(&a.subject),
            "kind": match a.kind { wit::ActivityKind::Typing => "typing", wit::ActivityKind::Seen => "seen" },
        }),
        wit::Event::CallRecord(c) => json!({
            "type": "call-record", "external_id": c.external_id, "party": identity(&c.party),
            "status": c.status, "duration_ms": c.duration_ms, "recording_url": c.recording_url,
        }),
        wit::Event::Csat(c) => json!({
            "type": "csat", "external_id": c.external_id, "subject": identity(&c.subject), "score": c.score,
            "scale": c.scale, "comment": c.comment,
        }),
        wit::Event::Integration(i) => json!({
            "type": "integration", "external_id": i.external_id, "subject": identity(&i.subject),
            "kind": i.kind, "summary": i.summary,
        }),
    }
}

/// What is wrong with `actual` against the `expected` field sets of a
/// list of `noun`s (events, requests): the same count, each matching.
pub fn list_problems(noun: &str, expected: &[Value], actual: &[Value]) -> Vec<String> {
    if expected.len() != actual.len() {
        return vec![format!(
            "{} {noun}s {actual:?}, expected {}",
            actual.len(),
            expected.len()
        )];
    }
    expected
        .iter()
        .zip(actual)
        .enumerate()
        .filter(|(_, (e, a))| !matches(e, a))
        .map(|(i, (e, a))| format!("{noun} {i} is {a}, expected the fields {e}"))
        .collect()
}

/// A delivery state as the SDK spells it.
pub fn state_name(state: wit::DeliveryState) -> &'static str {
    match state {
        wit::DeliveryState::Sent => "sent",
        wit::DeliveryState::Delivered => "delivered",
        wit::DeliveryState::Read => "read",
        wit::DeliveryState::Failed => "failed",
    }
}

/// The external ids of events, for the determinism check.
pub fn external_ids(events: &[wit::Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            wit::Event::MessageReceived(m) => Some(m.external_id.clone()),
            wit::Event::DeliveryStatus(s) => Some(s.external_id.clone()),
            wit::Event::CallRecord(c) => Some(c.external_id.clone()),
            wit::Event::Csat(c) => Some(c.external_id.clone()),
            wit::Event::Integration(i) => Some(i.external_id.clone()),
            wit::Event::ContactProfile(_) | wit::Event::Activity(_) => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_fields_match_recursively_and_extra_fields_are_ignored() {
        let actual = json!({"type": "message-received", "sender": {"kind": "email", "value": "a@b.c"}, "text": "hi"});
        assert!(matches(&json!({"type": "message-received"}), &actual));
        assert!(matches(&json!({"sender": {"kind": "email"}}), &actual));
        assert!(!matches(&json!({"sender": {"kind": "phone"}}), &actual));
        assert!(!matches(&json!({"missing": 1}), &actual));
    }

    #[test]
    fn cases_and_the_sample_load_from_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config.toml"),
            "[config]\ntitle = \"x\"\n[secrets]\nkey = \"k\"\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("body.txt"), "raw").unwrap();
        std::fs::write(
            dir.path().join("a.json"),
            r#"{"name": "a", "request": {"path": "/in", "headers": {"X-Sig": "1"}, "body_file": "body.txt"},
                "expect": {"status": 200}}"#,
        )
        .unwrap();
        let (sample, cases) = load(dir.path()).unwrap();
        let sample = sample.unwrap();
        assert_eq!(sample.config["title"], "x");
        assert_eq!(sample.secrets["key"], "k");
        assert_eq!(cases.len(), 1);
        assert_eq!(cases[0].request.method, "POST");
        assert_eq!(cases[0].request.body, b"raw");
        assert_eq!(cases[0].request.headers[0].name, "x-sig");
        std::fs::write(
            dir.path().join("reply.send.json"),
            r#"{"name": "r", "message": {"id": "m", "conversation_id": "c", "text": "t"},
                "recipient": {"kind": "phone", "value": "+14155550100"},
                "answers": [{"status": 201, "body": "{}"}], "expect": {"error": "permanent"}}"#,
        )
        .unwrap();
        let all = load_all(dir.path()).unwrap();
        assert_eq!(
            (all.webhooks.len(), all.sends.len()),
            (1, 1),
            "a send case is not a webhook case"
        );
        assert_eq!(all.sends[0].recipient.kind, wit::IdentityKind::Phone);
        assert_eq!(all.sends[0].answers[0].status, 201);
        std::fs::write(dir.path().join("b.json"), r#"{"name": "b", "request": {"path": "in"}}"#).unwrap();
        assert!(load(dir.path()).unwrap_err().contains("path must start with /"));
    }
}
