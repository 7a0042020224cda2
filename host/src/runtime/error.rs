//! Why loading or calling a plugin failed, in words an operator can act on.

use std::path::PathBuf;
use std::time::Duration;

/// Why one plugin call failed. The host and other plugins are unaffected.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CallError {
    /// The call ran past its wall-clock limit and was interrupted.
    #[error("the plugin did not finish within {0:?} and was stopped")]
    Timeout(Duration),
    /// The plugin tried to grow its memory past the limit.
    #[error(
        "the plugin tried to use {requested} bytes of memory; its limit is {limit} bytes \
         (an interpreter-based plugin may need more: [plugins.limits] memory_mb)"
    )]
    MemoryLimit {
        /// Bytes asked for.
        requested: usize,
        /// The limit.
        limit: usize,
    },
    /// The plugin crashed (a panic, `unreachable`, an out-of-bounds access).
    #[error("the plugin crashed: {0}")]
    Trap(String),
    /// The plugin returned more than the host accepts, or malformed data.
    #[error("the plugin returned invalid output: {0}")]
    InvalidOutput(String),
    /// The store failed while the plugin read its key-value state.
    #[error("the store failed during the call: {0}")]
    Store(String),
    /// The host could not run the call.
    #[error("the host could not run the plugin: {0}")]
    Host(String),
}

impl CallError {
    /// A stable code for logs, metrics and API error bodies.
    pub fn code(&self) -> &'static str {
        match self {
            CallError::Timeout(_) => "plugin_timeout",
            CallError::MemoryLimit { .. } => "plugin_memory_limit",
            CallError::Trap(_) => "plugin_crashed",
            CallError::InvalidOutput(_) => "plugin_invalid_output",
            CallError::Store(_) => "store_unavailable",
            CallError::Host(_) => "host_error",
        }
    }
}

/// Why a plugin could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The `.wasm` file could not be read.
    #[error("cannot read plugin {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Not a valid WebAssembly component.
    #[error("{} is not a valid WebAssembly component: {message}", path.display())]
    Compile {
        /// The file.
        path: PathBuf,
        /// Compiler message.
        message: String,
    },
    /// The component does not fit the host's contract.
    #[error("{} does not implement a supported omni:plugin world: {message}", path.display())]
    Contract {
        /// The file.
        path: PathBuf,
        /// What is missing or extra.
        message: String,
    },
    /// The plugin's manifest is unusable.
    #[error("plugin {} has an invalid manifest: {message}", path.display())]
    Manifest {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The `manifest` call failed.
    #[error("plugin {}: the manifest call failed: {source}", path.display())]
    Call {
        /// The file.
        path: PathBuf,
        /// The failure.
        source: CallError,
    },
    /// The instance config does not satisfy the plugin's schema.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
}
