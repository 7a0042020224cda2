//! On-disk cache of precompiled components, so a restart skips compilation.
//!
//! Entries are keyed by the SHA-256 of the `.wasm` and the engine's
//! compatibility hash (wasmtime version and every setting that affects
//! code). Only files this host wrote are ever deserialised.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Where a component came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    /// Loaded from the cache.
    Hit,
    /// Compiled and written to the cache.
    Miss,
    /// Compiled; the cache could not be written (logged).
    Uncached,
}

/// The cache directory.
#[derive(Debug, Clone)]
pub struct ComponentCache {
    dir: Option<PathBuf>,
}

impl ComponentCache {
    /// A cache in `dir`; `None` compiles every time.
    pub fn new(dir: Option<PathBuf>) -> Self {
        Self { dir }
    }

    /// Compiles `wasm`, or loads its precompiled form.
    pub fn load(&self, engine: &Engine, wasm: &[u8]) -> wasmtime::Result<(Component, CacheOutcome)> {
        let Some(dir) = &self.dir else {
            return Ok((Component::new(engine, wasm)?, CacheOutcome::Uncached));
        };
        let path = dir.join(format!("{}.cwasm", cache_key(engine, wasm)));
        if path.exists() {
            // SAFETY: the file is in the host's own cache directory, written
            // by `precompile_component` of an engine with the same
            // compatibility hash (part of the file name). A truncated or
            // mismatched file fails to deserialise and is recompiled.
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(component) => return Ok((component, CacheOutcome::Hit)),
                Err(e) => tracing::warn!(path = %path.display(), "discarding unusable cached component: {e:#}"),
            }
        }
        let bytes = engine.precompile_component(wasm)?;
        match write_atomically(&path, &bytes) {
            Ok(()) => {
                // SAFETY: `bytes` was produced just now by this engine.
                let component = unsafe { Component::deserialize(engine, &bytes)? };
                Ok((component, CacheOutcome::Miss))
            }
            Err(e) => {
                tracing::warn!(path = %path.display(), "cannot write the component cache: {e}");
                // SAFETY: as above.
                let component = unsafe { Component::deserialize(engine, &bytes)? };
                Ok((component, CacheOutcome::Uncached))
            }
        }
    }
}

fn cache_key(engine: &Engine, wasm: &[u8]) -> String {
    let mut hasher = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    let engine_hash = hasher.finish();
    let wasm_hash = hex::encode(Sha256::digest(wasm));
    format!("{wasm_hash}-{engine_hash:016x}")
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}
