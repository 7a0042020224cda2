//! Access tokens: a static one from the `access_token` secret, or the OAuth
//! 2.0 refresh token flow of a connected app.
//!
//! The refresh flow posts `grant_type=refresh_token` with the connected
//! app's consumer key and secret to `{login_url}/services/oauth2/token`.
//! Salesforce's answer has no lifetime (`expires_in`): a token lives as long
//! as the org's session timeout allows. So the token is cached in the
//! instance's key-value store and used until Salesforce refuses it with 401
//! `INVALID_SESSION_ID`; then [`crate::api::Api`] refreshes it once and retries.

use omni_plugin_sdk::prelude::*;
use serde::{Deserialize, Serialize};

use crate::config::Config;

/// Secret: a ready access token (session id). It expires with the org's
/// session timeout and cannot be renewed by the plugin.
pub const ACCESS_TOKEN: &str = "access_token";
/// Secret: the connected app's consumer key.
pub const CLIENT_ID: &str = "client_id";
/// Secret: the connected app's consumer secret.
pub const CLIENT_SECRET: &str = "client_secret";
/// Secret: a refresh token the connected app obtained for the integration user.
pub const REFRESH_TOKEN: &str = "refresh_token";

/// Key-value key of the cached access token.
pub const TOKEN_KEY: &str = "oauth/token";

/// How the plugin authenticates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// The `access_token` secret, as given.
    Static(String),
    /// The connected app's refresh token flow.
    Refresh {
        /// Consumer key.
        client_id: String,
        /// Consumer secret.
        client_secret: String,
        /// The integration user's refresh token.
        refresh_token: String,
    },
}

impl Credentials {
    /// Reads the secrets. The refresh flow wins when its three secrets are
    /// set, since a static token dies with its session; nothing usable is a
    /// permanent error that says what to set.
    pub fn read(host: &Host) -> Result<Self, IntegrationError> {
        let secret = |name: &str| host.secret(name).map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        let refresh = [CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN].map(secret);
        match refresh {
            [Some(client_id), Some(client_secret), Some(refresh_token)] => Ok(Credentials::Refresh {
                client_id,
                client_secret,
                refresh_token,
            }),
            partial => {
                if let Some(token) = secret(ACCESS_TOKEN) {
                    return Ok(Credentials::Static(token));
                }
                let missing: Vec<&str> = [CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN]
                    .into_iter()
                    .zip(&partial)
                    .filter(|(_, value)| value.is_none())
                    .map(|(name, _)| name)
                    .collect();
                let message = if missing.len() == 3 {
                    "no Salesforce credentials: set the secrets `client_id`, `client_secret` and `refresh_token` \
                     (a connected app's OAuth refresh token flow), or `access_token`"
                        .to_owned()
                } else {
                    format!(
                        "incomplete Salesforce credentials: the refresh token flow also needs the secret(s) {}",
                        missing.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", ")
                    )
                };
                Err(IntegrationError::permanent(message))
            }
        }
    }
}

/// An access token and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The bearer token.
    pub value: String,
    /// Obtained (or given) during this call: a 401 with it is not cured by
    /// refreshing again.
    pub fresh: bool,
    /// The instance the token endpoint said the token is for, when known.
    pub instance_url: Option<String>,
}

/// What the key-value store keeps.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct CachedToken {
    access_token: String,
    /// The consumer key it was obtained with: a token of another connected
    /// app (after the operator changed secrets) is not reused.
    client_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    instance_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    issued_at: Option<String>,
}

/// The token endpoint's answer (`signature`, `scope`, `id`, `token_type` are not needed).
#[derive(Debug, Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    instance_url: Option<String>,
    #[serde(default)]
    issued_at: Option<String>,
}

/// The token endpoint's refusal: `{"error": "invalid_grant", "error_description": "..."}`.
#[derive(Debug, Deserialize)]
struct TokenError {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: String,
}

/// The token to use now: the static one, the cached one, or a new one.
pub fn current(host: &Host, config: &Config, credentials: &Credentials) -> Result<Token, IntegrationError> {
    match credentials {
        Credentials::Static(token) => Ok(Token {
            value: token.clone(),
            fresh: true,
            instance_url: None,
        }),
        Credentials::Refresh { client_id, .. } => {
            // An unreadable cache only costs a refresh.
            let cached = host.kv_get_json::<CachedToken>(TOKEN_KEY).ok().flatten();
            match cached {
                Some(cached) if cached.client_id == *client_id && !cached.access_token.is_empty() => Ok(Token {
                    value: cached.access_token,
                    fresh: false,
                    instance_url: cached.instance_url,
                }),
                _ => refresh(host, config, credentials),
            }
        }
    }
}

/// Runs the refresh token flow and caches the new token.
pub fn refresh(host: &Host, config: &Config, credentials: &Credentials) -> Result<Token, IntegrationError> {
    let Credentials::Refresh {
        client_id,
        client_secret,
        refresh_token,
    } = credentials
    else {
        return Err(IntegrationError::permanent(
            "the static `access_token` cannot be refreshed; set `client_id`, `client_secret` and `refresh_token`",
        ));
    };
    let url = format!("{}/services/oauth2/token", config.login_url);
    let request = OutgoingRequest::post(&url).header("accept", "application/json").form(&[
        ("grant_type", "refresh_token"),
        ("client_id", client_id),
        ("client_secret", client_secret),
        ("refresh_token", refresh_token),
    ]);
    let response = host.http(&request).map_err(|e| crate::errors::transport(e, &url))?;
    if !response.is_success() {
        return Err(token_error(host, &response));
    }
    let answer: TokenResponse = response
        .json_body()
        .ok()
        .filter(|t: &TokenResponse| !t.access_token.is_empty())
        .ok_or_else(|| {
            IntegrationError::retryable(format!(
                "Salesforce's token endpoint answered {} without an access_token",
                response.status
            ))
        })?;
    let cached = CachedToken {
        access_token: answer.access_token.clone(),
        client_id: client_id.clone(),
        instance_url: answer.instance_url.clone(),
        issued_at: answer.issued_at,
    };
    if let Err(e) = host.kv_set_json(TOKEN_KEY, &cached) {
        // The token still serves this call; the next one refreshes again.
        host.debug(&format!("could not cache the Salesforce access token: {e}"));
    }
    host.debug("obtained a new Salesforce access token");
    Ok(Token {
        value: answer.access_token,
        fresh: true,
        instance_url: answer.instance_url,
    })
}

/// A refused refresh. A revoked or expired refresh token, a wrong consumer
/// key or secret, or a frozen integration user is the operator's to fix, and
/// once fixed the same events go through: retryable, with a warning that
/// says what to do. Salesforce's own trouble is retryable too.
fn token_error(host: &Host, response: &IncomingResponse) -> IntegrationError {
    let parsed = response.json_body::<TokenError>().ok();
    let (code, description) = match &parsed {
        Some(e) => (e.error.as_str(), e.error_description.as_str()),
        None => ("", ""),
    };
    let detail = if code.is_empty() {
        response.text().chars().take(300).collect::<String>()
    } else {
        format!("{code}: {description}")
    };
    let message = format!("Salesforce's token endpoint answered {}: {detail}", response.status);
    let credentials_refused = matches!(
        code,
        "invalid_grant"
            | "invalid_client"
            | "invalid_client_id"
            | "inactive_user"
            | "inactive_org"
            | "invalid_app_access"
    ) || response.status == 401;
    if credentials_refused {
        host.warn(&format!(
            "{message}. The refresh token flow failed: check the secrets `client_id` and `client_secret` (the \
             connected app's consumer key and secret) and obtain a new `refresh_token` for the integration user \
             if it was revoked or expired (connected app policy \"Refresh token is valid until revoked\" avoids \
             expiry); events are retried meanwhile"
        ));
        return IntegrationError::Retryable {
            message,
            after_ms: response.retry_after_ms(),
        };
    }
    match response.status {
        408 | 425 | 429 | 500..=599 => IntegrationError::Retryable {
            message,
            after_ms: response.retry_after_ms(),
        },
        _ => IntegrationError::permanent(message),
    }
}
