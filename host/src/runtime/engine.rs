//! The one wasmtime `Engine` every plugin shares, tuned for many short calls.

use wasmtime::{Config, Engine, InstanceAllocationStrategy, OptLevel, PoolingAllocationConfig};

/// Granularity of deadlines: the epoch ticks this often.
pub const EPOCH_TICK: std::time::Duration = std::time::Duration::from_millis(10);

/// Engine settings that matter to the operator.
#[derive(Debug, Clone, Copy)]
pub struct EngineOptions {
    /// Instances alive at once (pool slots); further calls wait.
    pub slots: u32,
    /// Largest linear memory any plugin may have.
    pub max_memory_bytes: usize,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            slots: 64,
            max_memory_bytes: 64 * 1024 * 1024,
        }
    }
}

/// How many idle warm instances ([`super::instances`]) all plugins together
/// may keep, for an engine of `slots` running instances.
pub fn warm_budget(slots: u32) -> u32 {
    (slots / 4).max(1)
}

/// Builds the engine: component model, async, epoch deadlines and the
/// pooling allocator, which makes a fresh instance per call cost tens of
/// microseconds (memory slots are reused with copy-on-write images).
pub fn build(options: EngineOptions) -> wasmtime::Result<Engine> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    config.cranelift_opt_level(OptLevel::Speed);
    config.parallel_compilation(true);
    config.memory_init_cow(true);
    // Keep guest stacks modest so a pool of async stacks stays small.
    config.max_wasm_stack(1 << 20);
    config.async_stack_size(2 << 20);

    // Running calls take at most `slots` instances; idle warm instances at
    // most `warm_budget` more.
    let slots = options.slots.max(1) + warm_budget(options.slots);
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(slots);
    // A Rust component holds a few core instances (the module and shims); a
    // componentize-py one holds 14 (libc, the interpreter, its extensions).
    pool.total_core_instances(slots * 16);
    pool.total_memories(slots * 2);
    pool.total_tables(slots * 4);
    pool.total_stacks(slots);
    pool.max_memory_size(options.max_memory_bytes);
    pool.max_memories_per_component(2);
    pool.max_tables_per_component(4);
    pool.max_core_instances_per_component(32);
    pool.table_elements(100_000);
    // Plenty for a plugin's instance metadata; large data lives in memory.
    pool.max_component_instance_size(1 << 20);
    pool.max_core_instance_size(1 << 20);
    // Reset small, hot regions by memset rather than madvise when a slot is
    // reused: cheaper for plugins that touch a few pages per call.
    pool.linear_memory_keep_resident(64 << 10);
    pool.table_keep_resident(16 << 10);
    pool.async_stack_keep_resident(64 << 10);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&config)
}
