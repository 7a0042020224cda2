//! The `omni` command line.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use omni_core::{Decision, PersonId};

use crate::app::{self, StartError};
use crate::config::Config;
use crate::runtime::{EngineOptions, InstanceConfig, InstancePolicy, LoadedPlugin, Runtime};

/// Omni: one conversation store for every channel, with connectors as sandboxed plugins.
#[derive(Debug, Parser)]
#[command(name = "omni", version, about)]
pub struct Cli {
    /// Log format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "OMNI_LOG_FORMAT")]
    pub log_format: LogFormat,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the host: serve webhooks and the API, deliver replies.
    Run {
        /// The config file.
        #[arg(short, long, default_value = "omni.toml", env = "OMNI_CONFIG")]
        config: PathBuf,
    },
    /// Make a running host apply its config file's `[[plugins]]` again (add,
    /// remove, reconfigure or upgrade connectors without a restart). Talks to
    /// the host at the config's `[server] listen` with the API token in
    /// `OMNI_API_TOKEN`; `kill -HUP <pid>` does the same.
    Reload {
        /// The config file of the running host.
        #[arg(short, long, default_value = "omni.toml", env = "OMNI_CONFIG")]
        config: PathBuf,
    },
    /// Work with the config file.
    Config {
        /// What to do with it.
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Work with plugin components.
    Plugin {
        /// What to do with it.
        #[command(subcommand)]
        command: PluginCommand,
    },
    /// Look at and correct the identity graph.
    Persons {
        /// The config file (for the database).
        #[arg(short, long, default_value = "omni.toml", env = "OMNI_CONFIG", global = true)]
        config: PathBuf,
        /// What to do.
        #[command(subcommand)]
        command: PersonsCommand,
    },
    /// Look at the event log and its subscribers, replay it to one.
    Events {
        /// The config file (for the database).
        #[arg(short, long, default_value = "omni.toml", env = "OMNI_CONFIG", global = true)]
        config: PathBuf,
        /// What to do.
        #[command(subcommand)]
        command: EventsCommand,
    },
    /// Create or upgrade the database schema, then exit.
    Migrate {
        /// The config file.
        #[arg(short, long, default_value = "omni.toml", env = "OMNI_CONFIG")]
        config: PathBuf,
    },
    /// Print the OpenAPI document of the HTTP API.
    Openapi,
}

/// `omni config ...`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the config and every plugin's config against its schema, without starting.
    Check {
        /// The config file.
        #[arg(short, long, default_value = "omni.toml", env = "OMNI_CONFIG")]
        config: PathBuf,
    },
}

/// `omni persons ...`
#[derive(Debug, Subcommand)]
pub enum PersonsCommand {
    /// Print a person with identities, links, suggestions and audit log as JSON.
    Show {
        /// Person id.
        person: PersonId,
    },
    /// Merge two persons (an operator's decision; the guards still apply).
    Merge {
        /// A person id.
        person: PersonId,
        /// The other person id.
        other: PersonId,
        /// Why, for the audit log.
        #[arg(long)]
        reason: String,
        /// Who decides, for the audit log.
        #[arg(long, env = "USER", default_value = "operator")]
        by: String,
    },
    /// Split a person by removing one of its links.
    Split {
        /// Person id.
        person: PersonId,
        /// The link to remove (see `omni persons show`).
        #[arg(long)]
        link: i64,
        /// Why, for the audit log.
        #[arg(long)]
        reason: String,
        /// Who decides, for the audit log.
        #[arg(long, env = "USER", default_value = "operator")]
        by: String,
    },
}

/// `omni events ...`
#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// Print every subscriber's cursor, lag, waiting events and dead letters as JSON.
    Subscribers,
    /// Deliver the log to a subscriber again from a position (0: the whole
    /// log). A running host picks the new cursor up within seconds.
    Replay {
        /// The subscriber: an integration's instance id.
        #[arg(long)]
        subscriber: String,
        /// Deliver the events after this position.
        #[arg(long)]
        from: i64,
    },
    /// Print events of the log after a position as JSON lines.
    List {
        /// Print the events after this position.
        #[arg(long, default_value_t = 0)]
        after: i64,
        /// Most events to print.
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
}

/// `omni plugin ...`
#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Show a plugin's manifest, imports and exports.
    Inspect {
        /// The component file.
        wasm: PathBuf,
    },
    /// Run the conformance kit against a plugin, offline: contract, manifest,
    /// config schema, fixtures, determinism, robustness, capabilities,
    /// resource profile. Exits 1 when a check fails.
    Test {
        /// The component file.
        wasm: PathBuf,
        /// The plugin's conformance fixtures: `config.toml` and `*.json` cases.
        #[arg(long)]
        fixtures: Option<PathBuf>,
        /// A sample config (`[config]` and `[secrets]` tables); default the fixtures' `config.toml`.
        #[arg(long)]
        config: Option<PathBuf>,
        /// The version this one replaces: checks that configs and fixtures carry over.
        #[arg(long)]
        previous: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = crate::conformance::report::Format::Human)]
        format: crate::conformance::report::Format,
        /// Mutated requests in the robustness check.
        #[arg(long, default_value_t = 1000)]
        mutations: usize,
    },
}

/// Parses arguments, runs the command and returns the exit code:
/// 0 on success, 2 for a bad config, 1 for anything else.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(execute(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            if error.is_config() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("OMNI_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

async fn execute(command: Command) -> Result<(), StartError> {
    match command {
        Command::Run { config } => app::run(Config::load(&config)?).await,
        Command::Reload { config } => reload(&config).await,
        Command::Config {
            command: ConfigCommand::Check { config },
        } => check_config(&config).await,
        Command::Plugin {
            command: PluginCommand::Inspect { wasm },
        } => inspect(&wasm).await,
        Command::Plugin {
            command:
                PluginCommand::Test {
                    wasm,
                    fixtures,
                    config,
                    previous,
                    format,
                    mutations,
                },
        } => {
            let options = crate::conformance::Options {
                wasm,
                fixtures,
                config,
                previous,
                mutations,
            };
            let report = crate::conformance::run(&options).await;
            print!("{}", report.render(format));
            if report.passed() {
                Ok(())
            } else {
                Err(StartError::Command(format!(
                    "{} does not pass the conformance kit",
                    options.wasm.display()
                )))
            }
        }
        Command::Persons { config, command } => persons(&config, command).await,
        Command::Events { config, command } => events(&config, command).await,
        Command::Migrate { config } => {
            let config = Config::load(&config)?;
            app::open_store(&config).await?;
            println!("database {} is up to date", config.storage.database_url);
            Ok(())
        }
        Command::Openapi => {
            let doc = crate::http::openapi();
            println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
            Ok(())
        }
    }
}

async fn reload(path: &Path) -> Result<(), StartError> {
    let config = Config::load(path)?;
    let token = std::env::var("OMNI_API_TOKEN")
        .map_err(|_| StartError::Command("set OMNI_API_TOKEN to an API token of the running host".into()))?;
    let mut address = config.server.listen;
    if address.ip().is_unspecified() {
        address.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let url = format!("http://{address}/v1/admin/reload");
    let failed = |e: reqwest::Error| StartError::Command(format!("cannot reach the host at {url}: {e}"));
    let response = reqwest::Client::new()
        .post(&url)
        .bearer_auth(token)
        .send()
        .await
        .map_err(failed)?;
    let status = response.status();
    let body: serde_json::Value = response.json().await.map_err(failed)?;
    if !status.is_success() {
        let message = body["error"]["message"].as_str().unwrap_or("no message").to_owned();
        return Err(StartError::Command(format!("reload refused ({status}): {message}")));
    }
    println!("{}", serde_json::to_string_pretty(&body).unwrap_or_default());
    Ok(())
}

async fn persons(path: &Path, command: PersonsCommand) -> Result<(), StartError> {
    let config = Config::load(path)?;
    let store = app::open_store(&config).await?;
    let failed = |e: omni_core::StoreError| StartError::Command(e.to_string());
    let print = |value: &serde_json::Value| println!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
    match command {
        PersonsCommand::Show { person } => {
            let found = store
                .person(person)
                .await
                .map_err(failed)?
                .ok_or_else(|| StartError::Command(format!("person {person} not found")))?;
            let suggestions = store.suggestions(found.id).await.map_err(failed)?;
            let audit = store.audit_log(found.id).await.map_err(failed)?;
            print(&serde_json::json!({ "person": found, "suggestions": suggestions, "audit": audit }));
        }
        PersonsCommand::Merge {
            person,
            other,
            reason,
            by,
        } => {
            let decision = Decision {
                actor: format!("operator:{by}"),
                reason,
            };
            let merged = store.merge_persons(person, other, decision).await.map_err(failed)?;
            print(&serde_json::json!({ "person": merged }));
        }
        PersonsCommand::Split {
            person,
            link,
            reason,
            by,
        } => {
            let found = store
                .person(person)
                .await
                .map_err(failed)?
                .ok_or_else(|| StartError::Command(format!("person {person} not found")))?;
            if !found.links.iter().any(|l| l.id == link) {
                return Err(StartError::Command(format!(
                    "person {person} has no active link {link}"
                )));
            }
            let decision = Decision {
                actor: format!("operator:{by}"),
                reason,
            };
            let persons = store.remove_link(link, decision).await.map_err(failed)?;
            print(&serde_json::json!({ "persons": persons }));
        }
    }
    Ok(())
}

async fn events(path: &Path, command: EventsCommand) -> Result<(), StartError> {
    let config = Config::load(path)?;
    let store = app::open_store(&config).await?;
    let failed = |e: omni_core::StoreError| StartError::Command(e.to_string());
    match command {
        EventsCommand::Subscribers => {
            let subscribers = store.subscribers().await.map_err(failed)?;
            println!("{}", serde_json::to_string_pretty(&subscribers).unwrap_or_default());
        }
        EventsCommand::Replay { subscriber, from } => {
            if !config.plugins.iter().any(|p| p.id.as_str() == subscriber) {
                let known: Vec<&str> = config.plugins.iter().map(|p| p.id.as_str()).collect();
                return Err(StartError::Command(format!(
                    "no plugin instance {subscriber:?} in {} (configured: {})",
                    path.display(),
                    known.join(", ")
                )));
            }
            store.replay_subscriber(&subscriber, from).await.map_err(failed)?;
            let head = store.event_head().await.map_err(failed)?;
            println!(
                "{subscriber} will receive the events after position {from} again ({} events, up to {head})",
                (head - from).max(0)
            );
        }
        EventsCommand::List { after, limit } => {
            for event in store.events_after(after, limit).await.map_err(failed)? {
                println!("{}", serde_json::to_string(&event).unwrap_or_default());
            }
        }
    }
    Ok(())
}

async fn check_config(path: &Path) -> Result<(), StartError> {
    let config = Config::load(path)?;
    let runtime = app::runtime_for(&config)?;
    for (index, plugin) in config.plugins.iter().enumerate() {
        let (loaded, _) = runtime.load(plugin, index, None).await?;
        app::check_world(plugin, index, &loaded)?;
        let manifest = loaded.manifest();
        let what = match &loaded {
            LoadedPlugin::Channel(_) => format!("channel {}", manifest.channel),
            LoadedPlugin::Integration(_) => "integration".to_owned(),
        };
        println!("plugin {}: {} {} ({what}) ok", plugin.id, manifest.id, manifest.version);
    }
    println!("{} is valid ({} plugins)", path.display(), config.plugins.len());
    Ok(())
}

async fn inspect(wasm: &Path) -> Result<(), StartError> {
    // One instance at a time, with room for interpreter-based plugins.
    let options = EngineOptions {
        slots: 4,
        max_memory_bytes: 1 << 30,
    };
    let runtime = Runtime::new(options, None)?;
    let inspection = runtime.inspect(wasm).await?;
    let manifest = &inspection.manifest;
    println!("file:        {} ({} bytes)", wasm.display(), inspection.size);
    println!("plugin:      {} {} ({})", manifest.id, manifest.version, manifest.name);
    println!(
        "contract:    omni:plugin@{} (this host: {})",
        inspection.contract,
        crate::runtime::bindings::CONTRACT_VERSION
    );
    println!("channel:     {}", manifest.channel);
    println!("description: {}", manifest.description);
    println!("secrets:     {:?}", manifest.secrets);
    println!("kv:          {}", manifest.kv);
    println!("hosts:       {:?}", manifest.outbound_hosts);
    let auto = InstancePolicy::choose(InstanceConfig::default(), inspection.fresh_cost);
    println!(
        "instances:   a fresh one costs {:.0} µs; by default: {auto}",
        inspection.fresh_cost.as_secs_f64() * 1e6
    );
    println!("imports:");
    for name in &inspection.imports {
        println!("  {name}");
    }
    println!("exports:");
    for name in &inspection.exports {
        println!("  {name}");
    }
    println!(
        "config schema:\n{}",
        serde_json::to_string_pretty(&manifest.config_schema).unwrap_or_default()
    );
    Ok(())
}
