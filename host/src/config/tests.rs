use super::*;

fn parse(text: &str) -> Result<Config, ConfigError> {
    let env = |name: &str| match name {
        "WEBCHAT_SECRET" => Some("s3cret".to_owned()),
        "API_TOKEN" => Some("dev-token".to_owned()),
        _ => None,
    };
    Config::parse(Path::new("conf/omni.toml"), text, &env)
}

fn error(text: &str) -> (usize, String, String) {
    match parse(text).unwrap_err() {
        ConfigError::Invalid { location, key, message } => (location.line, key, message),
        other => panic!("unexpected {other}"),
    }
}

const GOOD: &str = r#"
[server]
listen = "0.0.0.0:9000"

[[api.tokens]]
name = "admin"
env = "API_TOKEN"

[[plugins]]
id = "webchat"
wasm = "plugins/webchat.wasm"
config = { title = "Acme", allowed_origins = ["*"] }
secrets = { identity_secret = { env = "WEBCHAT_SECRET" } }
limits = { timeout_ms = 500 }
"#;

#[test]
fn a_good_config_resolves_paths_secrets_and_defaults() {
    let config = parse(GOOD).unwrap();
    assert_eq!(config.server.listen.port(), 9000);
    assert_eq!(config.storage.data_dir, Path::new("conf/data"));
    // Absolute, or the URL parser would take `conf` for a host (`omni run --config conf/omni.toml`).
    let cwd = std::env::current_dir().unwrap();
    assert_eq!(
        config.storage.database_url,
        format!("sqlite://{}", cwd.join("conf/data/omni.db").display())
    );
    let plugin = &config.plugins[0];
    assert_eq!(plugin.id.as_str(), "webchat");
    assert_eq!(plugin.wasm, Path::new("conf/plugins/webchat.wasm"));
    assert_eq!(plugin.secrets["identity_secret"], "s3cret");
    assert_eq!(plugin.config["allowed_origins"], serde_json::json!(["*"]));
    assert_eq!(plugin.config_locations["title"].line, 12);
    assert_eq!(plugin.limits.timeout, Duration::from_millis(500));
    assert_eq!(plugin.limits.memory_bytes, Limits::default().memory_bytes);
    assert_eq!(config.api_tokens[0].sha256, crate::http::auth::hash_token("dev-token"));
}

#[test]
fn an_empty_file_is_a_valid_config() {
    let config = parse("").unwrap();
    assert!(config.plugins.is_empty());
    assert_eq!(config.server.listen.to_string(), "127.0.0.1:8080");
}

#[test]
fn unknown_keys_name_line_and_key() {
    let (line, key, message) = error("[server]\nlisten = \"127.0.0.1:1\"\nlistne = 3\n");
    assert_eq!(line, 3);
    assert!(key.starts_with("server"), "{key}");
    assert!(message.contains("unknown field `listne`"), "{message}");

    let (line, key, _) = error("[[plugins]]\nid = \"a\"\nwasm = \"a.wasm\"\nconfgi = {}\n");
    assert_eq!(line, 4);
    assert!(key.starts_with("plugins[0]"), "{key}");
}

#[test]
fn bad_values_name_line_and_key() {
    let (line, key, message) = error("[server]\nlisten = \"nope\"\n");
    assert_eq!((line, key.as_str()), (2, "server.listen"));
    assert!(message.contains("nope"));

    let (line, key, _) = error("[server]\nmax_body_bytes = \"big\"\n");
    assert_eq!(line, 2);
    assert_eq!(key, "server.max_body_bytes");

    let (line, key, message) = error("\n[limits]\nmemory_mb = 0\n");
    assert_eq!((line, key.as_str()), (3, "limits.memory_mb"));
    assert!(message.contains("out of range"));

    let (line, key, _) = error("[conversations]\ncontinue_within = \"soon\"\n");
    assert_eq!((line, key.as_str()), (2, "conversations.continue_within"));
}

#[test]
fn plugin_entries_are_checked() {
    let (line, key, message) = error("[[plugins]]\nid = \"Bad Id\"\nwasm = \"x.wasm\"\n");
    assert_eq!((line, key.as_str()), (2, "plugins[0].id"));
    assert!(message.contains("invalid connector id"));

    let twice = "[[plugins]]\nid = \"a\"\nwasm = \"a.wasm\"\n[[plugins]]\nid = \"a\"\nwasm = \"b.wasm\"\n";
    let (line, key, message) = error(twice);
    assert_eq!((line, key.as_str()), (5, "plugins[1].id"));
    assert!(message.contains("used twice"));

    let missing = "[[plugins]]\nid = \"a\"\nwasm = \"a.wasm\"\nsecrets = { s = { env = \"NOT_SET_ANYWHERE\" } }\n";
    let (line, key, message) = error(missing);
    assert_eq!((line, key.as_str()), (4, "plugins[0].secrets.s"));
    assert!(message.contains("NOT_SET_ANYWHERE"));

    let (_, key, message) = error("[[plugins]]\nid = \"a\"\n");
    assert!(key.starts_with("plugins[0]"), "{key}");
    assert!(message.contains("wasm"), "{message}");
}

#[test]
fn tokens_need_exactly_one_source() {
    let (line, key, _) = error("[[api.tokens]]\nname = \"x\"\n");
    assert_eq!((line, key.as_str()), (1, "api.tokens[0]"));
    let (line, key, _) = error("[[api.tokens]]\nname = \"x\"\nsha256 = \"abc\"\n");
    assert_eq!((line, key.as_str()), (3, "api.tokens[0].sha256"));
}

#[test]
fn token_scopes_default_to_admin_and_name_bad_values() {
    use crate::http::auth::Scope;
    let entry = |name: &str, scope: &str| format!("[[api.tokens]]\nname = \"{name}\"\nenv = \"API_TOKEN\"\n{scope}");
    let text = [
        entry("old", ""),
        entry("ops", "scope = \"admin\"\n"),
        entry("desk", "scope = \"agent\"\n"),
        entry("dashboard", "scope = \"read\"\n"),
    ]
    .concat();
    let config = parse(&text).unwrap();
    let scopes: Vec<_> = config.api_tokens.iter().map(|t| (t.name.as_str(), t.scope)).collect();
    assert_eq!(
        scopes,
        [
            ("old", Scope::Admin),
            ("ops", Scope::Admin),
            ("desk", Scope::Agent),
            ("dashboard", Scope::Read)
        ]
    );

    let text = format!("{}{}", entry("a", ""), entry("b", "scope = \"write\"\n"));
    let (line, key, message) = error(&text);
    assert_eq!((line, key.as_str()), (7, "api.tokens[1].scope"));
    for allowed in ["\"admin\"", "\"agent\"", "\"read\"", "\"write\""] {
        assert!(message.contains(allowed), "{message}");
    }
    let (_, key, _) = error(&entry("a", "scope = \"Admin\"\n"));
    assert_eq!(key, "api.tokens[0].scope");
}

#[test]
fn syntax_errors_have_a_line() {
    let (line, _, _) = error("[server]\nlisten = \n");
    assert_eq!(line, 2);
}

#[test]
fn disabled_plugins_are_skipped() {
    let config = parse("[[plugins]]\nid = \"a\"\nwasm = \"a.wasm\"\nenabled = false\n").unwrap();
    assert!(config.plugins.is_empty());
}

#[test]
fn subscriptions_parse_with_defaults_and_name_bad_values() {
    let entry = "[[plugins]]\nid = \"crm\"\nwasm = \"crm.wasm\"\n";
    let config = parse(entry).unwrap();
    let plugin = &config.plugins[0];
    assert_eq!(plugin.subscribe, SubscribeConfig::default());
    assert_eq!(plugin.subscribe_location, None);
    assert_eq!(plugin.lookup_ttl, Duration::from_secs(600));

    let text = format!(
        "{entry}lookup_ttl = \"30s\"\n[plugins.subscribe]\nevents = [\"person.*\", \"conversation.resolved\"]\n\
         from = \"beginning\"\nmax_attempts = 3\nfirst_retry = \"250ms\"\nmax_retry = \"1m\"\n"
    );
    let config = parse(&text).unwrap();
    let plugin = &config.plugins[0];
    assert_eq!(plugin.lookup_ttl, Duration::from_secs(30));
    assert_eq!(plugin.subscribe.events, vec!["person.*", "conversation.resolved"]);
    assert_eq!(plugin.subscribe.start, omni_core::StartAt::Beginning);
    assert_eq!(plugin.subscribe.max_attempts, 3);
    assert_eq!(plugin.subscribe.first_retry, Duration::from_millis(250));
    assert_eq!(plugin.subscribe.max_retry, Duration::from_secs(60));
    assert_eq!(plugin.subscribe_location.as_ref().map(|l| l.line), Some(5));

    let (line, key, message) = error(&format!(
        "{entry}[plugins.subscribe]\nevents = [\"person.*\", \"Person Merged\"]\n"
    ));
    assert_eq!((line, key.as_str()), (5, "plugins[0].subscribe.events[1]"));
    assert!(message.contains("not an event kind"), "{message}");
    let (line, key, message) = error(&format!("{entry}[plugins.subscribe]\nfrom = \"yesterday\"\n"));
    assert_eq!((line, key.as_str()), (5, "plugins[0].subscribe.from"));
    assert!(message.contains("beginning"), "{message}");
    let (_, key, _) = error(&format!("{entry}[plugins.subscribe]\nmax_attempts = 0\n"));
    assert_eq!(key, "plugins[0].subscribe.max_attempts");
    let (_, key, _) = error(&format!("{entry}lookup_ttl = \"soon\"\n"));
    assert_eq!(key, "plugins[0].lookup_ttl");
}
