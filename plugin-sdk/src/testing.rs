//! An in-memory host for unit tests of a plugin compiled natively.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};

use crate::{Host, HostApi, HttpError, IncomingResponse, KvError, LogLevel, Manifest, OutgoingRequest};

/// The manifest's config schema, parsed; panics unless it refuses unknown
/// keys (`"additionalProperties": false`) and describes every property.
pub fn documented_config_schema(manifest: &Manifest) -> serde_json::Value {
    let schema: serde_json::Value = serde_json::from_str(&manifest.config_schema).expect("the config schema is JSON");
    assert_eq!(
        schema["additionalProperties"], false,
        "the config schema of {} must refuse unknown keys",
        manifest.id
    );
    if let Some(properties) = schema["properties"].as_object() {
        for (key, property) in properties {
            assert!(property["description"].is_string(), "{key} has no description");
        }
    }
    schema
}

/// An in-memory [`HostApi`]: config and secrets you set, a key-value map,
/// the log lines the plugin wrote, and the provider's answers to its HTTP
/// requests (queued with [`MockHost::respond`]), which it records.
#[derive(Debug, Default)]
pub struct MockHost {
    instance_id: String,
    config: BTreeMap<String, String>,
    secrets: BTreeMap<String, String>,
    kv: RefCell<BTreeMap<String, Vec<u8>>>,
    logs: RefCell<Vec<(LogLevel, String)>>,
    responses: RefCell<VecDeque<Result<IncomingResponse, HttpError>>>,
    requests: RefCell<Vec<OutgoingRequest>>,
}

impl MockHost {
    /// An empty host.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the connector instance id.
    pub fn with_instance_id(mut self, id: &str) -> Self {
        self.instance_id = id.to_owned();
        self
    }

    /// Sets a config value.
    pub fn with_config(mut self, key: &str, value: serde_json::Value) -> Self {
        self.config.insert(key.to_owned(), value.to_string());
        self
    }

    /// Sets a secret.
    pub fn with_secret(mut self, name: &str, value: &str) -> Self {
        self.secrets.insert(name.to_owned(), value.to_owned());
        self
    }

    /// Queues the answer to the plugin's next HTTP request.
    pub fn respond(self, response: IncomingResponse) -> Self {
        self.responses.borrow_mut().push_back(Ok(response));
        self
    }

    /// Queues a failure for the plugin's next HTTP request.
    pub fn fail_http(self, error: HttpError) -> Self {
        self.responses.borrow_mut().push_back(Err(error));
        self
    }

    /// The HTTP requests the plugin sent, in order.
    pub fn requests(&self) -> Vec<OutgoingRequest> {
        self.requests.borrow().clone()
    }

    /// The typed host handle to pass to the plugin.
    pub fn host(&self) -> Host<'_> {
        Host::new(self)
    }

    /// The log lines written so far.
    pub fn logs(&self) -> Vec<(LogLevel, String)> {
        self.logs.borrow().clone()
    }

    /// The key-value store's content.
    pub fn kv(&self) -> BTreeMap<String, Vec<u8>> {
        self.kv.borrow().clone()
    }
}

impl HostApi for MockHost {
    fn log(&self, level: LogLevel, message: &str) {
        self.logs.borrow_mut().push((level, message.to_owned()));
    }

    fn config_get(&self, key: &str) -> Option<String> {
        self.config.get(key).cloned()
    }

    fn instance_id(&self) -> String {
        self.instance_id.clone()
    }

    fn secret_get(&self, name: &str) -> Option<String> {
        self.secrets.get(name).cloned()
    }

    fn kv_get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        Ok(self.kv.borrow().get(key).cloned())
    }

    fn kv_set(&self, key: &str, value: &[u8]) -> Result<(), KvError> {
        self.kv.borrow_mut().insert(key.to_owned(), value.to_vec());
        Ok(())
    }

    fn kv_delete(&self, key: &str) -> Result<(), KvError> {
        self.kv.borrow_mut().remove(key);
        Ok(())
    }

    fn http_send(&self, request: &OutgoingRequest) -> Result<IncomingResponse, HttpError> {
        self.requests.borrow_mut().push(request.clone());
        self.responses.borrow_mut().pop_front().unwrap_or_else(|| {
            Err(HttpError::Unreachable(format!(
                "MockHost has no answer queued for {} {} (use MockHost::respond)",
                request.method, request.url
            )))
        })
    }
}
