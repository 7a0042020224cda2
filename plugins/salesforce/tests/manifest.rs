//! The manifest and the config schema operators read.

use omni_plugin_sdk::prelude::*;
use omni_salesforce::Salesforce;

#[test]
fn the_config_schema_is_documented_and_strict() {
    let manifest = Salesforce::manifest();
    let schema = testing::documented_config_schema(&manifest);
    assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
    let properties = schema["properties"].as_object().unwrap();
    let keys: Vec<&str> = properties.keys().map(String::as_str).collect();
    for key in [
        "instance_url",
        "login_url",
        "api_version",
        "object",
        "external_id_field",
        "lead_company",
        "conversation_record",
        "activity_external_id_field",
    ] {
        assert!(keys.contains(&key), "{key} is missing from the schema");
    }
    assert_eq!(keys.len(), 8);
    assert_eq!(
        schema["properties"]["object"]["enum"],
        serde_json::json!(["Contact", "Lead"])
    );
    assert_eq!(
        schema["properties"]["conversation_record"]["enum"],
        serde_json::json!(["Task", "Case", "none"])
    );
}

#[test]
fn the_manifest_asks_for_secrets_kv_and_salesforce_hosts() {
    let manifest = Salesforce::manifest();
    assert_eq!(manifest.id, "salesforce");
    assert!(manifest.capabilities.kv);
    assert_eq!(
        manifest.capabilities.secrets,
        ["access_token", "client_id", "client_secret", "refresh_token"]
    );
    assert_eq!(
        manifest.capabilities.outbound_hosts,
        ["login.salesforce.com", "test.salesforce.com", "*.my.salesforce.com"]
    );
    assert!(manifest.capabilities.poll_interval_ms.is_none());
}
