//! What the host offers a plugin during a call: logs, config, secrets, state.

use serde::{Serialize, de::DeserializeOwned};

use crate::{HttpError, IncomingResponse, OutgoingRequest, PluginError};

/// Severity of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    /// Very detailed.
    Trace,
    /// Detailed.
    Debug,
    /// Normal operation.
    Info,
    /// Odd but not failing.
    Warn,
    /// Failing.
    Error,
}

/// Why a key-value operation was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvError {
    /// The plugin did not declare the `kv` capability.
    Denied(String),
    /// Key or value too large.
    TooLarge(String),
    /// Too many writes in one call.
    QuotaExceeded(String),
    /// The store failed.
    Unavailable(String),
}

impl std::fmt::Display for KvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KvError::Denied(m) => write!(f, "kv denied: {m}"),
            KvError::TooLarge(m) => write!(f, "kv value too large: {m}"),
            KvError::QuotaExceeded(m) => write!(f, "kv quota exceeded: {m}"),
            KvError::Unavailable(m) => write!(f, "kv unavailable: {m}"),
        }
    }
}

impl std::error::Error for KvError {}

impl From<KvError> for PluginError {
    fn from(error: KvError) -> Self {
        PluginError::Internal(error.to_string())
    }
}

/// The raw host functions; implemented by the wasm glue and by
/// [`crate::testing::MockHost`]. Plugins use the typed [`Host`] instead.
pub trait HostApi {
    /// Writes a log line.
    fn log(&self, level: LogLevel, message: &str);
    /// A config value as JSON text.
    fn config_get(&self, key: &str) -> Option<String>;
    /// A secret value.
    fn secret_get(&self, name: &str) -> Option<String>;
    /// A key-value read.
    fn kv_get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError>;
    /// A key-value write.
    fn kv_set(&self, key: &str, value: &[u8]) -> Result<(), KvError>;
    /// A key-value delete.
    fn kv_delete(&self, key: &str) -> Result<(), KvError>;
    /// An HTTP request to a provider.
    fn http_send(&self, request: &OutgoingRequest) -> Result<IncomingResponse, HttpError>;
    /// The connector instance id (contract 0.1.1). The default, for hosts
    /// written before it, is empty.
    fn instance_id(&self) -> String {
        String::new()
    }
}

/// The host as seen by a plugin during one call.
#[derive(Clone, Copy)]
pub struct Host<'a> {
    api: &'a dyn HostApi,
}

impl<'a> Host<'a> {
    /// Wraps a raw host implementation.
    pub fn new(api: &'a dyn HostApi) -> Self {
        Self { api }
    }

    /// Logs at `info`.
    pub fn info(&self, message: &str) {
        self.api.log(LogLevel::Info, message);
    }

    /// Logs at `warn`.
    pub fn warn(&self, message: &str) {
        self.api.log(LogLevel::Warn, message);
    }

    /// Logs at `debug`.
    pub fn debug(&self, message: &str) {
        self.api.log(LogLevel::Debug, message);
    }

    /// Logs at any level.
    pub fn log(&self, level: LogLevel, message: &str) {
        self.api.log(level, message);
    }

    /// A config value deserialised into `T`; `None` when absent. A value of
    /// the wrong type is an `internal` error, since the host validated the
    /// config against the manifest's schema at load.
    pub fn config<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, PluginError> {
        match self.api.config_get(key) {
            None => Ok(None),
            Some(json) => serde_json::from_str(&json)
                .map(Some)
                .map_err(|e| PluginError::Internal(format!("config key `{key}` has an unexpected shape: {e}"))),
        }
    }

    /// A config value, or `default` when absent.
    pub fn config_or<T: DeserializeOwned>(&self, key: &str, default: T) -> Result<T, PluginError> {
        Ok(self.config(key)?.unwrap_or(default))
    }

    /// This connector instance's id from `omni.toml`, also the
    /// `/hooks/{instance}/` segment of its webhook URLs.
    pub fn instance_id(&self) -> String {
        self.api.instance_id()
    }

    /// A secret the operator configured for this instance.
    pub fn secret(&self, name: &str) -> Option<String> {
        self.api.secret_get(name)
    }

    /// Raw bytes from the key-value store.
    pub fn kv_get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        self.api.kv_get(key)
    }

    /// Raw bytes into the key-value store.
    pub fn kv_set(&self, key: &str, value: &[u8]) -> Result<(), KvError> {
        self.api.kv_set(key, value)
    }

    /// Deletes a key.
    pub fn kv_delete(&self, key: &str) -> Result<(), KvError> {
        self.api.kv_delete(key)
    }

    /// Sends an HTTP request to the provider (allowed hosts only; see the
    /// `http-send` import in the WIT contract).
    pub fn http(&self, request: &OutgoingRequest) -> Result<IncomingResponse, HttpError> {
        self.api.http_send(request)
    }

    /// A JSON value from the key-value store.
    pub fn kv_get_json<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, PluginError> {
        match self.api.kv_get(key)? {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| PluginError::Internal(format!("kv key `{key}` holds unreadable JSON: {e}"))),
        }
    }

    /// A JSON value into the key-value store.
    pub fn kv_set_json<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<(), KvError> {
        let bytes = serde_json::to_vec(value).map_err(|e| KvError::Unavailable(e.to_string()))?;
        self.api.kv_set(key, &bytes)
    }
}
