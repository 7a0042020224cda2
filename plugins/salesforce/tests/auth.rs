//! The OAuth refresh token flow, the cached token, and 401 handling.

mod common;

use common::*;
use omni_plugin_sdk::prelude::*;
use omni_salesforce::Salesforce;
use serde_json::json;

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// Puts a token in the cache as an earlier call would have.
fn cache(mock: &testing::MockHost, token: &str, client_id: &str) {
    mock.host()
        .kv_set_json(
            "oauth/token",
            &json!({"access_token": token, "client_id": client_id, "issued_at": "1558553873237"}),
        )
        .unwrap();
}

#[test]
fn the_refresh_token_flow_gets_a_token_first() {
    let mock = oauth_host()
        .respond(answer(200, TOKEN_REFRESH))
        .respond(answer(201, UPSERT_CREATED));
    let outcome = Salesforce::on_event(&mock.host(), event(1, "person.created", ada(), json!({}))).unwrap();
    assert_eq!(outcome, EventOutcome::record(CONTACT_ID));

    let requests = mock.requests();
    assert_eq!(requests.len(), 2);
    let token = &requests[0];
    assert_eq!(token.method, "POST");
    assert_eq!(token.url, format!("{LOGIN}/services/oauth2/token"));
    assert_eq!(token.header_value("authorization"), None);
    assert_eq!(
        token.header_value("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        form(token),
        pairs(&[
            ("grant_type", "refresh_token"),
            ("client_id", "3MVG9-consumer-key"),
            ("client_secret", "consumer-secret"),
            ("refresh_token", "5Aep861-refresh"),
        ])
    );
    assert_request(
        &requests[1],
        "PATCH",
        &data("/sobjects/Contact/Omni_Person_Id__c/p-1"),
        REFRESHED_TOKEN,
    );
    assert!(!warned(&mock));
}

#[test]
fn the_token_is_cached_across_calls() {
    let mock = oauth_host()
        .respond(answer(200, TOKEN_REFRESH))
        .respond(answer(201, UPSERT_CREATED))
        .respond(answer(200, UPSERT_UPDATED))
        .respond(answer(200, QUERY_CONTACT));
    Salesforce::on_event(&mock.host(), event(1, "person.created", ada(), json!({}))).unwrap();
    let cached: serde_json::Value = serde_json::from_slice(&mock.kv()["oauth/token"]).unwrap();
    assert_eq!(cached["access_token"], REFRESHED_TOKEN);
    assert_eq!(cached["client_id"], "3MVG9-consumer-key");

    Salesforce::on_event(&mock.host(), event(2, "person.merged", ada(), json!({}))).unwrap();
    Salesforce::lookup(&mock.host(), ada()).unwrap().unwrap();
    let requests = mock.requests();
    assert_eq!(requests.len(), 4, "one token request for three calls");
    for request in &requests[1..] {
        assert_eq!(
            request.header_value("authorization"),
            Some(format!("Bearer {REFRESHED_TOKEN}").as_str())
        );
    }
}

#[test]
fn an_invalid_session_refreshes_the_token_once_and_retries() {
    let mock = oauth_host()
        .respond(answer(401, INVALID_SESSION_ID))
        .respond(answer(200, TOKEN_REFRESH))
        .respond(answer(201, UPSERT_CREATED));
    cache(&mock, "00Dexpired!token", "3MVG9-consumer-key");
    let outcome = Salesforce::on_event(&mock.host(), event(1, "person.created", ada(), json!({}))).unwrap();
    assert_eq!(outcome, EventOutcome::record(CONTACT_ID));

    let requests = mock.requests();
    assert_eq!(requests.len(), 3);
    let upsert = data("/sobjects/Contact/Omni_Person_Id__c/p-1");
    assert_request(&requests[0], "PATCH", &upsert, "00Dexpired!token");
    assert_eq!(requests[1].url, format!("{LOGIN}/services/oauth2/token"));
    assert_request(&requests[2], "PATCH", &upsert, REFRESHED_TOKEN);
    assert_eq!(requests[0].body, requests[2].body);
    let cached: serde_json::Value = serde_json::from_slice(&mock.kv()["oauth/token"]).unwrap();
    assert_eq!(cached["access_token"], REFRESHED_TOKEN);
    assert!(!warned(&mock));
}

#[test]
fn a_refused_refreshed_token_is_retryable_and_warns() {
    let mock = oauth_host()
        .respond(answer(401, INVALID_SESSION_ID))
        .respond(answer(200, TOKEN_REFRESH))
        .respond(answer(401, INVALID_SESSION_ID));
    cache(&mock, "00Dexpired!token", "3MVG9-consumer-key");
    let error = Salesforce::on_event(&mock.host(), event(1, "person.created", ada(), json!({}))).unwrap_err();
    assert!(matches!(&error, IntegrationError::Retryable { message, .. } if message.contains("INVALID_SESSION_ID")));
    assert_eq!(mock.requests().len(), 3, "refreshed once, not again");
    // The token was issued for https://acme.my.salesforce.com, the config points elsewhere.
    assert!(warnings(&mock).contains("instance_url"), "{}", warnings(&mock));
}

#[test]
fn a_token_refused_right_after_the_refresh_is_not_refreshed_again() {
    let mock = oauth_host()
        .respond(answer(200, TOKEN_REFRESH))
        .respond(answer(401, INVALID_SESSION_ID));
    let error = Salesforce::on_event(&mock.host(), event(1, "person.created", ada(), json!({}))).unwrap_err();
    assert!(matches!(error, IntegrationError::Retryable { .. }));
    assert_eq!(mock.requests().len(), 2);
    assert!(warned(&mock));
}

#[test]
fn a_refused_static_token_is_retryable_and_warns() {
    let mock = host().respond(answer(401, INVALID_SESSION_ID));
    let error = Salesforce::on_event(&mock.host(), event(1, "person.created", ada(), json!({}))).unwrap_err();
    assert!(matches!(error, IntegrationError::Retryable { .. }));
    assert_eq!(mock.requests().len(), 1);
    assert!(warnings(&mock).contains("access_token"));
}

#[test]
fn a_cached_token_of_another_connected_app_is_not_used() {
    let mock = oauth_host()
        .respond(answer(200, TOKEN_REFRESH))
        .respond(answer(201, UPSERT_CREATED));
    cache(&mock, "00Dother!token", "another-app");
    Salesforce::on_event(&mock.host(), event(1, "person.created", ada(), json!({}))).unwrap();
    let requests = mock.requests();
    assert_eq!(requests[0].url, format!("{LOGIN}/services/oauth2/token"));
    assert_eq!(
        requests[1].header_value("authorization"),
        Some(format!("Bearer {REFRESHED_TOKEN}").as_str())
    );
}

#[test]
fn the_refresh_flow_wins_over_a_static_token() {
    let mock = oauth_host()
        .with_secret("access_token", STATIC_TOKEN)
        .respond(answer(200, TOKEN_REFRESH))
        .respond(answer(201, UPSERT_CREATED));
    Salesforce::on_event(&mock.host(), event(1, "person.created", ada(), json!({}))).unwrap();
    assert_eq!(mock.requests()[0].url, format!("{LOGIN}/services/oauth2/token"));
}

#[test]
fn missing_secrets_are_permanent_and_say_what_to_set() {
    let mock = configured();
    let error = Salesforce::on_event(&mock.host(), event(1, "person.created", ada(), json!({}))).unwrap_err();
    assert!(matches!(&error, IntegrationError::Permanent { message }
        if message.contains("client_id") && message.contains("access_token")));

    let partial = configured().with_secret("client_id", "3MVG9-consumer-key");
    let error = Salesforce::on_event(&partial.host(), event(1, "person.created", ada(), json!({}))).unwrap_err();
    assert!(matches!(&error, IntegrationError::Permanent { message }
        if message.contains("`client_secret`, `refresh_token`")));

    let error = Salesforce::lookup(&mock.host(), ada()).unwrap_err();
    assert!(matches!(error, IntegrationError::Permanent { .. }));
    assert!(mock.requests().is_empty());
    assert!(partial.requests().is_empty());
}

#[test]
fn a_revoked_refresh_token_is_retryable_and_warns() {
    let mock = oauth_host().respond(answer(400, TOKEN_INVALID_GRANT));
    let error = Salesforce::on_event(&mock.host(), event(1, "person.created", ada(), json!({}))).unwrap_err();
    assert!(matches!(&error, IntegrationError::Retryable { message, .. } if message.contains("invalid_grant")));
    assert!(warnings(&mock).contains("refresh_token"));
    assert_eq!(mock.requests().len(), 1);
}

#[test]
fn token_endpoint_trouble_is_retryable() {
    let mock = oauth_host().respond(IncomingResponse::new(503, "").with_header("Retry-After", "30"));
    let error = Salesforce::on_event(&mock.host(), event(1, "person.created", ada(), json!({}))).unwrap_err();
    assert_eq!(
        error,
        IntegrationError::Retryable {
            message: "Salesforce's token endpoint answered 503: ".into(),
            after_ms: Some(30_000)
        }
    );

    let mock = oauth_host().fail_http(HttpError::Timeout("deadline".into()));
    let error = Salesforce::on_event(&mock.host(), event(1, "person.created", ada(), json!({}))).unwrap_err();
    assert!(matches!(error, IntegrationError::Retryable { .. }));

    let mock = oauth_host().respond(IncomingResponse::new(200, "not json"));
    let error = Salesforce::on_event(&mock.host(), event(1, "person.created", ada(), json!({}))).unwrap_err();
    assert!(matches!(error, IntegrationError::Retryable { .. }));
}
