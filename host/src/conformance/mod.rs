//! The conformance kit behind `omni plugin test`: loads a component exactly
//! as the host does (same engine, limits, linker and config checks) and runs
//! named checks against it, offline and deterministically: fixtures in,
//! recorded outbound requests out, no provider account needed.
//!
//! Checks: the contract and manifest ([`Runtime::inspect`]), the sample
//! config against the schema and violations refused with their path, the
//! plugin's own fixture cases ([`cases`]), determinism (a webhook twice
//! gives the same external ids), robustness (empty, invalid, huge and
//! wrong-method requests, missing and forged signatures, unknown event
//! types, and deterministic [`mutate`]d fixture bodies: never a trap, a
//! timeout, a memory breach or a 5xx), capability honesty (no secret, kv or
//! outbound host the manifest did not declare), and the resource profile.
//! With a previous version, upgrade safety. [`report`] renders the result.

pub mod cases;
pub mod mutate;
pub mod report;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use omni_core::{ConnectorId, Normalizer};
use serde_json::{Value, json};

use crate::config::{ConfigError, Location, PluginConfig};
use crate::connector::{CallUsage, Connector};
use crate::events;
use crate::runtime::bindings::wit;
use crate::runtime::offline::{Answer, OfflineNetwork};
use crate::runtime::{
    CallError, EngineOptions, Inspection, InstancePolicy, Limits, LoadError, LoadedPlugin, Network, Runtime,
};
use cases::{Loaded, LoadedSend, Sample};
use report::{Report, Status};

/// What to test.
#[derive(Debug, Clone)]
pub struct Options {
    /// The component.
    pub wasm: PathBuf,
    /// The plugin's conformance fixtures (`config.toml`, `*.json` cases).
    pub fixtures: Option<PathBuf>,
    /// A sample config file (`[config]`, `[secrets]`); default the fixtures' `config.toml`.
    pub config: Option<PathBuf>,
    /// The version it replaces, for the upgrade-safety check.
    pub previous: Option<PathBuf>,
    /// Mutated requests in the robustness check.
    pub mutations: usize,
}

/// Faults after which a robustness check stops (a looping plugin would
/// otherwise cost the whole deadline on every mutation).
const MAX_FAULTS: usize = 5;

/// Headers that carry a signature or credential.
fn is_signature_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["signature", "hmac", "authorization", "token", "secret"]
        .iter()
        .any(|part| name.contains(part))
}

/// What one webhook call came to.
enum Outcome {
    /// The call failed: trap, timeout, memory breach, garbage output.
    Failed(String),
    /// The plugin refused it (its status).
    Refused(u16, String),
    /// The plugin answered.
    Answered { status: u16, events: Vec<wit::Event> },
}

impl Outcome {
    /// Why this is a robustness failure, if it is.
    fn fault(&self) -> Option<String> {
        match self {
            Outcome::Failed(why) => Some(why.clone()),
            Outcome::Refused(500, why) => Some(format!("an internal error (500): {why}")),
            Outcome::Answered { status, .. } if *status >= 500 => Some(format!("answered {status}")),
            _ => None,
        }
    }

    fn status(&self) -> Option<u16> {
        match self {
            Outcome::Failed(_) => None,
            Outcome::Refused(status, _) | Outcome::Answered { status, .. } => Some(*status),
        }
    }

    /// Accepted with events: what a forged request must never get.
    fn accepted_events(&self) -> bool {
        matches!(self, Outcome::Answered { status, events } if (200..300).contains(status) && !events.is_empty())
    }
}

fn refusal_status(error: &wit::PluginError) -> u16 {
    match error {
        wit::PluginError::BadRequest(_) => 400,
        wit::PluginError::Unauthorized(_) => 401,
        wit::PluginError::Forbidden(_) => 403,
        wit::PluginError::NotFound(_) => 404,
        wit::PluginError::Unsupported(_) => 405,
        wit::PluginError::UnsupportedMediaType(_) => 415,
        wit::PluginError::Internal(_) => 500,
    }
}

/// The plugin under test and what its calls used.
struct Subject {
    connector: Arc<dyn Connector>,
    usage: Vec<CallUsage>,
    normalizer: Normalizer,
    /// Where the plugin's key-value writes go, as in the host.
    store: Option<Arc<dyn omni_core::Store>>,
}

impl Subject {
    async fn webhook(&mut self, request: wit::HttpRequest) -> Outcome {
        let output = match self.connector.handle_webhook(request).await {
            Ok(output) => output,
            Err(e) => return Outcome::Failed(call_failure(&e)),
        };
        self.usage.push(output.usage);
        if let Some(store) = &self.store
            && !output.kv.writes.is_empty()
        {
            let batch = omni_core::IngestBatch {
                workspace: self.connector.workspace().to_owned(),
                connector: self.connector.id().clone(),
                channel: self.connector.manifest().channel.clone(),
                events: Vec::new(),
                kv: output.kv,
            };
            if let Err(e) = store.ingest(batch).await {
                return Outcome::Failed(format!("its key-value writes cannot be stored: {e}"));
            }
        }
        let outcome = match output.value {
            Ok(outcome) => outcome,
            Err(error) => {
                let message = crate::ingest::plugin_message(&error).to_owned();
                return Outcome::Refused(refusal_status(&error), message);
            }
        };
        if let Err(e) = crate::ingest::check_response(&outcome.response, self.connector.as_ref()) {
            return Outcome::Failed(format!("invalid response: {e}"));
        }
        let status = outcome.response.status;
        if let Err(e) = events::normalize(
            outcome.events.clone(),
            self.connector.manifest(),
            self.connector.limits(),
            &self.normalizer,
        ) {
            return Outcome::Failed(format!("events the host cannot store: {e}"));
        }
        Outcome::Answered {
            status,
            events: outcome.events,
        }
    }
}

fn call_failure(error: &CallError) -> String {
    format!("{} ({})", error, error.code())
}

fn elapsed_since(started: Instant) -> Duration {
    started.elapsed()
}

/// Runs every check and returns the report; never panics on a bad plugin.
pub async fn run(options: &Options) -> Report {
    let mut report = Report::new(options.wasm.display().to_string());
    let started = Instant::now();
    let (fixture_sample, cases, sends) = match &options.fixtures {
        None => (None, Vec::new(), Vec::new()),
        Some(dir) => match cases::load_all(dir) {
            Ok(fixtures) => (fixtures.sample, fixtures.webhooks, fixtures.sends),
            Err(e) => {
                report.add("fixtures: readable", Status::Fail, e, elapsed_since(started));
                return report;
            }
        },
    };
    let sample = match &options.config {
        Some(path) => match std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|text| toml::from_str::<Sample>(&text).map_err(|e| e.to_string()))
        {
            Ok(sample) => Some(sample),
            Err(e) => {
                report.add(
                    "config: readable",
                    Status::Fail,
                    format!("{}: {e}", path.display()),
                    elapsed_since(started),
                );
                return report;
            }
        },
        None => fixture_sample,
    };
    let memory = sample
        .as_ref()
        .map(|s| s.limits.apply(Limits::default()).memory_bytes)
        .unwrap_or(0);
    let engine = EngineOptions {
        max_memory_bytes: memory.max(EngineOptions::default().max_memory_bytes),
        ..EngineOptions::default()
    };
    let runtime = match Runtime::new(engine, None) {
        Ok(runtime) => runtime,
        Err(e) => {
            report.add(
                "contract",
                Status::Fail,
                format!("cannot start the engine: {e}"),
                elapsed_since(started),
            );
            return report;
        }
    };

    // The contract and the manifest.
    let started = Instant::now();
    let inspection = match runtime.inspect(&options.wasm).await {
        Ok(inspection) => inspection,
        Err(e) => {
            report.add("contract", Status::Fail, e.to_string(), elapsed_since(started));
            return report;
        }
    };
    let manifest = &inspection.manifest;
    report.plugin = Some(format!("{} {}", manifest.id, manifest.version));
    let exports: Vec<&String> = inspection
        .exports
        .iter()
        .filter(|e| e.starts_with("omni:plugin/"))
        .collect();
    report.add(
        "contract",
        Status::Pass,
        format!("exports {exports:?}; imports {} interfaces", inspection.imports.len()),
        elapsed_since(started),
    );
    manifest_check(&mut report, &inspection);

    // The sample config, and violations of the schema.
    let dir = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(e) => {
            report.add(
                "config: sample accepted",
                Status::Fail,
                format!("no temporary directory: {e}"),
                Duration::ZERO,
            );
            return report;
        }
    };
    let sample = sample.unwrap_or_default();
    let plugin = plugin_config(&options.wasm, &sample, dir.path());
    let store = match omni_core::store::open(
        &format!("sqlite://{}", dir.path().join("conformance.db").display()),
        Default::default(),
    )
    .await
    {
        Ok(store) => store,
        Err(e) => {
            report.add(
                "config: sample accepted",
                Status::Fail,
                format!("no store: {e}"),
                Duration::ZERO,
            );
            return report;
        }
    };
    let started = Instant::now();
    let loaded = match runtime
        .load_with(&plugin, 0, Some(store.clone()), Network::Offline)
        .await
    {
        Ok((loaded, _)) => {
            report.add(
                "config: sample accepted",
                Status::Pass,
                format!("{} config keys, {} secrets", sample.config.len(), sample.secrets.len()),
                elapsed_since(started),
            );
            loaded
        }
        Err(e) => {
            let hint = if options.fixtures.is_none() && options.config.is_none() {
                "; give a sample with --fixtures DIR (its config.toml) or --config FILE"
            } else {
                ""
            };
            report.add(
                "config: sample accepted",
                Status::Fail,
                format!("{e}{hint}"),
                elapsed_since(started),
            );
            return report;
        }
    };
    violations_check(&mut report, &runtime, &plugin, &manifest.config_schema).await;

    let integration = matches!(loaded, LoadedPlugin::Integration(_));
    let instances = loaded.instances();
    let offline = loaded.offline();
    let mut subject = Subject {
        connector: loaded.into_connector(),
        usage: Vec::new(),
        normalizer: Normalizer::default(),
        store: Some(store.clone()),
    };
    fixtures_check(&mut report, &mut subject, &cases).await;
    determinism_check(&mut report, &mut subject, &cases).await;
    robustness_checks(&mut report, &mut subject, &cases, options.mutations).await;
    if integration {
        integration_checks(&mut report, &subject).await;
    } else if let Some(offline) = &offline {
        send_checks(&mut report, &mut subject, offline, &sends).await;
        send_robustness(&mut report, &mut subject, offline).await;
    }
    capabilities_check(&mut report, &subject.usage);
    profile_check(&mut report, &subject.usage, subject.connector.limits(), instances);
    if let Some(previous) = &options.previous {
        upgrade_check(
            &mut report,
            &runtime,
            previous,
            &options.wasm,
            &inspection,
            &sample,
            &cases,
            dir.path(),
        )
        .await;
    }
    report
}

/// The `[[plugins]]` entry a sample stands for.
fn plugin_config(wasm: &Path, sample: &Sample, dir: &Path) -> PluginConfig {
    PluginConfig {
        id: ConnectorId::new("conformance").expect("a valid id"),
        wasm: wasm.to_owned(),
        config: sample.config.clone(),
        config_locations: BTreeMap::new(),
        workspace: omni_core::DEFAULT_WORKSPACE.to_owned(),
        allowed_hosts: None,
        location: Location {
            file: dir.join("sample.toml"),
            line: 1,
            column: 1,
        },
        secrets: sample.secrets.clone(),
        limits: sample.limits.apply(Limits::default()),
        send_limits: Default::default(),
        subscribe: Default::default(),
        subscribe_location: None,
        lookup_ttl: Duration::from_secs(600),
        instances: sample.instances.config(),
        inbound: None,
    }
}

fn manifest_check(report: &mut Report, inspection: &Inspection) {
    let manifest = &inspection.manifest;
    let schema = &manifest.config_schema;
    let mut problems = Vec::new();
    if manifest.description.trim().is_empty() {
        problems.push("the description is empty; say in a paragraph what the plugin does".to_owned());
    }
    if schema.get("additionalProperties") != Some(&Value::Bool(false)) {
        problems.push(
            "the config schema accepts unknown keys; set \"additionalProperties\": false so typos are refused at load"
                .to_owned(),
        );
    }
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        for (key, property) in properties {
            if !property.get("description").is_some_and(Value::is_string) {
                problems.push(format!("config property {key:?} has no description"));
            }
        }
    }
    let status = if problems.is_empty() {
        Status::Pass
    } else {
        Status::Fail
    };
    let message = if problems.is_empty() {
        format!(
            "{} {} ({}); secrets {:?}, kv {}, outbound hosts {:?}",
            manifest.id, manifest.version, manifest.channel, manifest.secrets, manifest.kv, manifest.outbound_hosts
        )
    } else {
        problems.join("; ")
    };
    report.add("manifest", status, message, Duration::ZERO);
}

/// A config with an unknown key, and one with a property of the wrong
/// type, must each be refused at load with the path of the field.
async fn violations_check(report: &mut Report, runtime: &Runtime, plugin: &PluginConfig, schema: &Value) {
    let started = Instant::now();
    let mut tried: Vec<(String, PluginConfig)> = Vec::new();
    let mut unknown = plugin.clone();
    unknown.config.insert("conformance_unknown_key".into(), json!(true));
    tried.push(("conformance_unknown_key".into(), unknown));
    if let Some((key, wrong)) = wrong_type(schema) {
        let mut bad = plugin.clone();
        bad.config.insert(key.clone(), wrong);
        tried.push((key, bad));
    }
    let mut problems = Vec::new();
    for (key, config) in &tried {
        match runtime.load_with(config, 0, None, Network::Offline).await {
            Err(LoadError::Config(ConfigError::Invalid { key: path, .. })) if path.contains(key.as_str()) => {}
            Err(LoadError::Config(ConfigError::Invalid { key: path, message, .. })) => problems.push(format!(
                "a bad {key:?} was refused, but the error points at {path} ({message})"
            )),
            Err(other) => problems.push(format!("a bad {key:?} failed the load oddly: {other}")),
            Ok(_) => problems.push(format!("a config with a bad {key:?} was accepted")),
        }
    }
    let names: Vec<&str> = tried.iter().map(|(k, _)| k.as_str()).collect();
    if problems.is_empty() {
        report.add(
            "config: violations refused",
            Status::Pass,
            format!("refused with the field's path: {names:?}"),
            started.elapsed(),
        );
    } else {
        report.add(
            "config: violations refused",
            Status::Fail,
            problems.join("; "),
            started.elapsed(),
        );
    }
}

/// A property of the schema and a value of the wrong type for it.
fn wrong_type(schema: &Value) -> Option<(String, Value)> {
    let properties = schema.get("properties")?.as_object()?;
    properties.iter().find_map(|(key, property)| {
        let wrong = match property.get("type")?.as_str()? {
            "string" => json!(12345),
            "integer" | "number" => json!("not a number"),
            "boolean" => json!("yes"),
            "array" => json!("not a list"),
            "object" => json!(["not", "a", "table"]),
            _ => return None,
        };
        Some((key.clone(), wrong))
    })
}

async fn fixtures_check(report: &mut Report, subject: &mut Subject, cases: &[Loaded]) {
    if cases.is_empty() {
        report.add(
            "fixtures",
            Status::Skip,
            "no fixture cases (pass --fixtures DIR with *.json cases)",
            Duration::ZERO,
        );
        return;
    }
    for loaded in cases {
        let started = Instant::now();
        let outcome = subject.webhook(loaded.request.clone()).await;
        let name = format!("fixture: {}", loaded.case.name);
        let mut problems = Vec::new();
        if let Some(fault) = outcome.fault() {
            problems.push(fault);
        }
        if let (Some(expected), Some(actual)) = (loaded.case.expect.status, outcome.status())
            && expected != actual
        {
            let why = match &outcome {
                Outcome::Refused(_, message) => format!(" ({message})"),
                _ => String::new(),
            };
            problems.push(format!("status {actual}{why}, expected {expected}"));
        }
        if let Some(expected) = &loaded.case.expect.events {
            let actual: Vec<Value> = match &outcome {
                Outcome::Answered { events, .. } => events.iter().map(cases::event_json).collect(),
                _ => Vec::new(),
            };
            problems.extend(cases::list_problems("event", expected, &actual));
        }
        report.add_case(name, &loaded.file, &problems, started.elapsed());
    }
}

async fn determinism_check(report: &mut Report, subject: &mut Subject, cases: &[Loaded]) {
    if cases.is_empty() {
        report.add(
            "determinism",
            Status::Skip,
            "no fixture cases to repeat",
            Duration::ZERO,
        );
        return;
    }
    let started = Instant::now();
    let mut problems = Vec::new();
    for loaded in cases {
        let mut runs = Vec::new();
        for _ in 0..2 {
            runs.push(match subject.webhook(loaded.request.clone()).await {
                Outcome::Answered { status, events } => (Some(status), cases::external_ids(&events)),
                other => (other.status(), Vec::new()),
            });
        }
        if runs[0] != runs[1] {
            problems.push(format!(
                "{}: the same webhook gave {:?} then {:?}; external ids must be the provider's, stable across retries",
                loaded.case.name, runs[0], runs[1]
            ));
        }
    }
    let status = if problems.is_empty() {
        Status::Pass
    } else {
        Status::Fail
    };
    let message = if problems.is_empty() {
        format!("{} cases gave the same status and external ids twice", cases.len())
    } else {
        problems.join("; ")
    };
    report.add("determinism", status, message, started.elapsed());
}

fn request(method: &str, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> wit::HttpRequest {
    wit::HttpRequest {
        method: method.to_owned(),
        path: path.to_owned(),
        query: String::new(),
        headers: headers
            .iter()
            .map(|(n, v)| wit::Header {
                name: (*n).to_owned(),
                value: (*v).to_owned(),
            })
            .collect(),
        body,
    }
}

async fn robustness_checks(report: &mut Report, subject: &mut Subject, cases: &[Loaded], mutations: usize) {
    let mut paths: Vec<String> = cases.iter().map(|c| c.request.path.clone()).collect();
    paths.push("/".to_owned());
    paths.sort();
    paths.dedup();
    let json = [("content-type", "application/json")];
    let huge = vec![b'a'; 1 << 20];
    let unknown = br#"{"type":"conformance.unknown","object":"conformance","entry":[{"unknown":true}],"data":{}}"#;
    let generic: [(&str, MakeRequest<'_>); 6] = [
        ("empty body", Box::new(|p: &str| request("POST", p, &json, Vec::new()))),
        (
            "invalid UTF-8",
            Box::new(|p: &str| request("POST", p, &json, vec![0xff, 0xfe, 0xfd, b'{', 0x80])),
        ),
        (
            "huge body",
            Box::new(move |p: &str| request("POST", p, &json, huge.clone())),
        ),
        (
            "wrong method",
            Box::new(|p: &str| request("DELETE", p, &[], Vec::new())),
        ),
        (
            "odd query",
            Box::new(|p: &str| {
                let mut r = request("GET", p, &[], Vec::new());
                r.query = "%zz&&=&a=%00&hub.mode=subscribe".to_owned();
                r
            }),
        ),
        (
            "unknown event type",
            Box::new(|p: &str| request("POST", p, &json, unknown.to_vec())),
        ),
    ];
    for (name, make) in &generic {
        let started = Instant::now();
        let mut faults = Vec::new();
        for path in &paths {
            if let Some(fault) = subject.webhook(make(path)).await.fault() {
                faults.push(format!("{path}: {fault}"));
            }
        }
        add_result(report, &format!("robustness: {name}"), faults, started, paths.len());
    }
    signature_checks(report, subject, cases).await;

    let started = Instant::now();
    let mut rng = mutate::Rng::new(0x00C0_FFEE);
    let seeds: Vec<wit::HttpRequest> = if cases.is_empty() {
        vec![request(
            "POST",
            "/",
            &json,
            br#"{"id":"1","text":"hello","from":{"id":42}}"#.to_vec(),
        )]
    } else {
        cases.iter().map(|c| c.request.clone()).collect()
    };
    let mut faults = Vec::new();
    for i in 0..mutations {
        if faults.len() >= MAX_FAULTS {
            break;
        }
        let mut r = seeds[i % seeds.len()].clone();
        r.body = mutate::mutate(&mut rng, &r.body);
        if let Some(fault) = subject.webhook(r).await.fault() {
            faults.push(format!("mutation {i} of {}: {fault}", seeds[i % seeds.len()].path));
        }
    }
    add_result(report, "robustness: mutated fixtures", faults, started, mutations);
}

/// Builds a generic request for a path.
type MakeRequest<'a> = Box<dyn Fn(&str) -> wit::HttpRequest + 'a>;

fn add_result(report: &mut Report, name: &str, faults: Vec<String>, started: Instant, tried: usize) {
    if faults.is_empty() {
        report.add(
            name,
            Status::Pass,
            format!("{tried} requests, no trap, timeout or 5xx"),
            started.elapsed(),
        );
    } else {
        let shown: Vec<&String> = faults.iter().take(5).collect();
        report.add(
            name,
            Status::Fail,
            format!(
                "{} of {tried} requests failed (a plugin must refuse bad input with an error result or a 4xx): {shown:?}",
                faults.len()
            ),
            started.elapsed(),
        );
    }
}

/// Cases that carry signature headers must not be accepted with the
/// signature forged or missing.
async fn signature_checks(report: &mut Report, subject: &mut Subject, cases: &[Loaded]) {
    let signed: Vec<&Loaded> = cases
        .iter()
        .filter(|c| c.request.headers.iter().any(|h| is_signature_header(&h.name)))
        .collect();
    for variant in ["forged signature", "missing signature"] {
        let name = format!("robustness: {variant}");
        if signed.is_empty() {
            report.add(
                name,
                Status::Skip,
                "no fixture case carries a signature header",
                Duration::ZERO,
            );
            continue;
        }
        let started = Instant::now();
        let mut faults = Vec::new();
        for loaded in &signed {
            let mut r = loaded.request.clone();
            if variant == "forged signature" {
                for header in r.headers.iter_mut().filter(|h| is_signature_header(&h.name)) {
                    header.value = header.value.chars().rev().collect::<String>() + "forged";
                }
            } else {
                r.headers.retain(|h| !is_signature_header(&h.name));
            }
            let outcome = subject.webhook(r).await;
            if let Some(fault) = outcome.fault() {
                faults.push(format!("{}: {fault}", loaded.case.name));
            } else if outcome.accepted_events() {
                faults.push(format!("{}: accepted and produced events", loaded.case.name));
            }
        }
        add_result(report, &name, faults, started, signed.len());
    }
}

/// An integration's `on-event` and `lookup` with every kind of event and
/// odd persons: errors are fine, traps are not.
async fn integration_checks(report: &mut Report, subject: &Subject) {
    let Some(integration) = subject.connector.integration() else {
        return;
    };
    let started = Instant::now();
    let person = |identities: Vec<wit::Identity>, records: Vec<String>| wit::Person {
        id: "0190f5d2-0000-7000-8000-000000000001".into(),
        display_name: Some("Ann Example".into()),
        identities,
        records,
    };
    let full = person(
        vec![
            wit::Identity {
                kind: wit::IdentityKind::Email,
                value: "ann@example.com".into(),
                verified: true,
            },
            wit::Identity {
                kind: wit::IdentityKind::Phone,
                value: "+14155550100".into(),
                verified: false,
            },
        ],
        vec!["1".into(), "2".into()],
    );
    let empty = person(Vec::new(), Vec::new());
    let kinds = [
        "person.created",
        "person.merged",
        "person.split",
        "identity.added",
        "message.received",
        "conversation.resolved",
        "csat.received",
        "integration.checkout.abandoned",
        "conformance.unknown",
    ];
    let mut faults = Vec::new();
    let mut calls = 0;
    for kind in kinds {
        for person in [Some(full.clone()), Some(empty.clone()), None] {
            for data in ["{}", r#"{"merged":"x","kind":"email","value":"a@b.c","text":null}"#] {
                calls += 1;
                let event = wit::DomainEvent {
                    position: calls,
                    kind: kind.to_owned(),
                    at: 1_800_000_000_000,
                    person: person.clone(),
                    conversation_id: Some("0190f5d2-0000-7000-8000-000000000002".into()),
                    message_id: None,
                    data: data.to_owned(),
                    transcript: vec![wit::TranscriptLine {
                        direction: wit::MessageDirection::Inbound,
                        channel: "webchat".into(),
                        text: "hello <b>&</b>".into(),
                        at: 1_800_000_000_000,
                    }],
                };
                if let Err(e) = integration.on_event(event).await {
                    faults.push(format!("on-event {kind}: {}", call_failure(&e)));
                }
            }
        }
    }
    for person in [full, empty] {
        calls += 1;
        if let Err(e) = integration.lookup(person).await {
            faults.push(format!("lookup: {}", call_failure(&e)));
        }
    }
    add_result(
        report,
        "robustness: on-event and lookup",
        faults,
        started,
        calls as usize,
    );
}

fn capabilities_check(report: &mut Report, usage: &[CallUsage]) {
    let mut undeclared: Vec<&String> = usage.iter().flat_map(|u| &u.undeclared).collect();
    undeclared.sort();
    undeclared.dedup();
    let requests = usage.iter().map(|u| u.requests.len()).sum::<usize>();
    if undeclared.is_empty() {
        report.add(
            "capabilities",
            Status::Pass,
            format!(
                "used nothing undeclared in {} calls ({requests} outbound requests, answered offline)",
                usage.len()
            ),
            Duration::ZERO,
        );
    } else {
        report.add(
            "capabilities",
            Status::Fail,
            format!("used without declaring it in the manifest: {undeclared:?}; declare it (with_secret, with_kv, with_outbound_host) or stop using it"),
            Duration::ZERO,
        );
    }
}

fn profile_check(
    report: &mut Report,
    usage: &[CallUsage],
    limits: &Limits,
    (policy, fresh_cost): (InstancePolicy, Duration),
) {
    if usage.is_empty() {
        report.add("resource profile", Status::Skip, "no successful calls", Duration::ZERO);
        return;
    }
    let mut times: Vec<Duration> = usage.iter().map(|u| u.elapsed).collect();
    times.sort();
    let p50 = times[times.len() / 2];
    let max = times[times.len() - 1];
    let memory = usage.iter().map(|u| u.peak_memory).max().unwrap_or(0);
    let mib = |bytes: usize| bytes as f64 / (1024.0 * 1024.0);
    report.add(
        "resource profile",
        Status::Pass,
        format!(
            "{} calls: time p50 {:.2} ms, max {:.2} ms (limit {} ms); peak memory {:.1} MiB (limit {:.0} MiB); \
             a fresh instance costs {:.0} µs, so the host uses a {policy}",
            usage.len(),
            p50.as_secs_f64() * 1e3,
            max.as_secs_f64() * 1e3,
            limits.timeout.as_millis(),
            mib(memory),
            mib(limits.memory_bytes),
            fresh_cost.as_secs_f64() * 1e6,
        ),
        Duration::ZERO,
    );
}

/// With the previous version: every config key it knew still exists, no
/// new key is required, the sample works with both, and every fixture case
/// the old version passed still passes.
#[allow(clippy::too_many_arguments)]
async fn upgrade_check(
    report: &mut Report,
    runtime: &Runtime,
    previous: &Path,
    wasm: &Path,
    current: &Inspection,
    sample: &Sample,
    cases: &[Loaded],
    dir: &Path,
) {
    let started = Instant::now();
    let old = match runtime.inspect(previous).await {
        Ok(old) => old,
        Err(e) => {
            report.add(
                "upgrade safety",
                Status::Fail,
                format!("the previous version does not load: {e}"),
                started.elapsed(),
            );
            return;
        }
    };
    let mut problems = Vec::new();
    let keys = |schema: &Value| -> Vec<String> {
        schema
            .get("properties")
            .and_then(Value::as_object)
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default()
    };
    let required = |schema: &Value| -> Vec<String> {
        schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    };
    let (old_schema, new_schema) = (&old.manifest.config_schema, &current.manifest.config_schema);
    let new_keys = keys(new_schema);
    for key in keys(old_schema) {
        if !new_keys.contains(&key) {
            problems.push(format!("config key {key:?} is gone: configs that set it stop loading"));
        }
    }
    let old_required = required(old_schema);
    for key in required(new_schema) {
        if !old_required.contains(&key) {
            problems.push(format!(
                "config key {key:?} became required: existing configs without it stop loading"
            ));
        }
    }
    if old.manifest.version >= current.manifest.version {
        problems.push(format!(
            "the version does not increase ({} -> {})",
            old.manifest.version, current.manifest.version
        ));
    }
    // The old version's passing cases must still pass.
    let plugin = plugin_config(previous, sample, dir);
    if let Ok((old_loaded, _)) = runtime.load_with(&plugin, 0, None, Network::Offline).await {
        let mut old_subject = Subject {
            connector: old_loaded.into_connector(),
            usage: Vec::new(),
            normalizer: Normalizer::default(),
            store: None,
        };
        let new_plugin = plugin_config(wasm, sample, dir);
        if let Ok((new_loaded, _)) = runtime.load_with(&new_plugin, 0, None, Network::Offline).await {
            let mut new_subject = Subject {
                connector: new_loaded.into_connector(),
                usage: Vec::new(),
                normalizer: Normalizer::default(),
                store: None,
            };
            for loaded in cases {
                let old_ids = match old_subject.webhook(loaded.request.clone()).await {
                    Outcome::Answered { status, events } => Some((status, cases::external_ids(&events))),
                    _ => None,
                };
                let new_ids = match new_subject.webhook(loaded.request.clone()).await {
                    Outcome::Answered { status, events } => Some((status, cases::external_ids(&events))),
                    _ => None,
                };
                if old_ids.is_some() && old_ids != new_ids {
                    problems.push(format!(
                        "case {:?} gave {old_ids:?} before and {new_ids:?} now",
                        loaded.case.name
                    ));
                }
            }
        }
    } else {
        problems.push("the sample config does not load with the previous version".into());
    }
    if problems.is_empty() {
        report.add(
            "upgrade safety",
            Status::Pass,
            format!(
                "{} -> {}: configs and fixture cases carry over",
                old.manifest.version, current.manifest.version
            ),
            started.elapsed(),
        );
    } else {
        report.add("upgrade safety", Status::Fail, problems.join("; "), started.elapsed());
    }
}

/// The plugin's send cases: the requests it makes and the receipt or error.
async fn send_checks(report: &mut Report, subject: &mut Subject, offline: &OfflineNetwork, sends: &[LoadedSend]) {
    if sends.is_empty() {
        report.add(
            "send cases",
            Status::Skip,
            "no send cases (*.send.json in the fixtures)",
            Duration::ZERO,
        );
        return;
    }
    for loaded in sends {
        let started = Instant::now();
        offline.clear();
        offline.script(loaded.answers.clone());
        let name = format!("send: {}", loaded.case.name);
        let output = match subject
            .connector
            .send(loaded.message.clone(), loaded.recipient.clone())
            .await
        {
            Ok(output) => output,
            Err(e) => {
                report.add(
                    name,
                    Status::Fail,
                    format!("{}: {}", loaded.file.display(), call_failure(&e)),
                    started.elapsed(),
                );
                continue;
            }
        };
        let requests: Vec<Value> = output
            .usage
            .requests
            .iter()
            .map(|r| {
                let (method, url) = r.split_once(' ').unwrap_or((r.as_str(), ""));
                json!({"method": method, "url": url})
            })
            .collect();
        subject.usage.push(output.usage.clone());
        let mut problems = Vec::new();
        if let Some(expected) = &loaded.case.expect.requests {
            problems.extend(cases::list_problems("request", expected, &requests));
        }
        match (&output.value, &loaded.case.expect.error, &loaded.case.expect.receipt) {
            (Ok(receipt), None, expected) => {
                let actual = json!({
                    "external_id": receipt.external_id,
                    "state": cases::state_name(receipt.state),
                });
                if let Some(expected) = expected
                    && !cases::matches(expected, &actual)
                {
                    problems.push(format!("receipt {actual}, expected {expected}"));
                }
            }
            (Ok(receipt), Some(kind), _) => {
                problems.push(format!("sent ({}), expected a {kind} error", receipt.external_id));
            }
            (Err(error), expected, _) => {
                let (kind, message) = match error {
                    wit::SendError::Retryable(r) => ("retryable", r.message.as_str()),
                    wit::SendError::Permanent(m) => ("permanent", m.as_str()),
                };
                if expected.as_deref() != Some(kind) {
                    problems.push(format!("a {kind} error ({message}), expected {expected:?}"));
                }
            }
        }
        report.add_case(name, &loaded.file, &problems, started.elapsed());
    }
    offline.clear();
}

/// `send` with odd recipients, texts and provider answers: errors are
/// fine, traps and timeouts are not.
async fn send_robustness(report: &mut Report, subject: &mut Subject, offline: &OfflineNetwork) {
    let started = Instant::now();
    let kinds = [
        wit::IdentityKind::Email,
        wit::IdentityKind::Phone,
        wit::IdentityKind::ChannelUser,
        wit::IdentityKind::CrmId,
        wit::IdentityKind::ExternalId,
    ];
    let values = ["", "not an address", "+0", "webchat:v-1", "ann@example.com"];
    let texts = ["".to_owned(), "x".repeat(100_000), "\u{0}\u{1b}[31m<b>&</b>".to_owned()];
    let answers = [
        Answer::unavailable(),
        Answer {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body: b"{\"unexpected\": [1, 2".to_vec(),
        },
        Answer {
            status: 429,
            headers: vec![("retry-after".into(), "soon".into())],
            body: Vec::new(),
        },
        Answer {
            status: 200,
            headers: Vec::new(),
            body: b"{}".to_vec(),
        },
    ];
    let mut faults = Vec::new();
    let mut tried = 0;
    for (i, kind) in kinds.iter().enumerate() {
        for (j, value) in values.iter().enumerate() {
            let text = &texts[(i + j) % texts.len()];
            offline.clear();
            offline.script(std::iter::repeat_n(answers[(i + j) % answers.len()].clone(), 16));
            let message = wit::OutboundMessage {
                id: format!("conformance-{i}-{j}"),
                conversation_id: "0190f5d2-0000-7000-8000-000000000002".into(),
                text: text.clone(),
                attachments: Vec::new(),
                reply_to: None,
                thread_id: None,
            };
            let recipient = wit::Identity {
                kind: *kind,
                value: (*value).to_owned(),
                verified: false,
            };
            tried += 1;
            match subject.connector.send(message, recipient).await {
                Ok(output) => subject.usage.push(output.usage),
                Err(e) => faults.push(format!("{kind:?} {value:?}: {}", call_failure(&e))),
            }
            if faults.len() >= MAX_FAULTS {
                break;
            }
        }
    }
    offline.clear();
    add_result(report, "robustness: send", faults, started, tried);
}
