//! Messages visitors post from the widget, and how their identity is proven.

use omni_plugin_sdk::CsatAnswer;
use omni_plugin_sdk::crypto::verify_hmac_sha256_hex;
use omni_plugin_sdk::prelude::*;
use serde::Deserialize;

use crate::IDENTITY_SECRET;

const DEFAULT_MAX_TEXT: usize = 4000;
const MAX_ID_LEN: usize = 128;

/// The JSON body of `POST /messages`.
#[derive(Debug, Deserialize)]
pub struct VisitorMessage {
    /// Random id the widget keeps for this browser.
    pub visitor_id: String,
    /// Id the widget gave this message; a retry sends the same id.
    pub message_id: String,
    /// What the visitor wrote.
    pub text: String,
    /// A name the visitor typed, unverified.
    #[serde(default)]
    pub name: Option<String>,
    /// An email the visitor typed, or the signed-in user's email.
    #[serde(default)]
    pub email: Option<String>,
    /// The signed-in user's id in the business's own system.
    #[serde(default)]
    pub user_id: Option<String>,
    /// Hex `HMAC-SHA256(identity_secret, user_id or email)`.
    #[serde(default)]
    pub user_hash: Option<String>,
}

/// Handles `POST /messages`.
pub fn receive(host: &Host, request: &Request) -> Result<WebhookOutcome, PluginError> {
    let message: VisitorMessage = request.json()?;
    let max_text: usize = host.config_or("max_text_length", DEFAULT_MAX_TEXT)?;
    check_id("visitor_id", &message.visitor_id)?;
    check_id("message_id", &message.message_id)?;
    let text = message.text.trim();
    if text.is_empty() {
        return Err(PluginError::bad_request("`text` is empty"));
    }
    if text.chars().count() > max_text {
        return Err(PluginError::bad_request(format!(
            "`text` is longer than {max_text} characters"
        )));
    }

    let sender = Identity::channel_user(&message.visitor_id);
    let external_id = format!("{}/{}", message.visitor_id, message.message_id);
    let mut event = InboundMessage::new(external_id, sender, text).with_sent_at(crate::now_ms());
    for claim in verified_claims(host, &message)? {
        event = event.with_claim(claim);
    }
    if let Some(name) = message.name.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        event = event.with_display_name(name.chars().take(200).collect::<String>());
    }

    let body = serde_json::json!({ "accepted": true, "message_id": message.message_id });
    Ok(WebhookOutcome::new(Response::json(202, &body)).with_event(event))
}

/// The JSON body of `POST /csat`.
#[derive(Debug, Deserialize)]
pub struct Rating {
    /// The visitor.
    pub visitor_id: String,
    /// Id the widget gave this rating; a retry sends the same id.
    pub rating_id: String,
    /// 1 (bad) to 5 (great).
    pub score: u8,
    /// An optional comment.
    #[serde(default)]
    pub comment: Option<String>,
}

/// Handles `POST /csat`: the visitor rates the conversation.
pub fn rate(_host: &Host, request: &Request) -> Result<WebhookOutcome, PluginError> {
    let rating: Rating = request.json()?;
    check_id("visitor_id", &rating.visitor_id)?;
    check_id("rating_id", &rating.rating_id)?;
    if !(1..=5).contains(&rating.score) {
        return Err(PluginError::bad_request(format!(
            "`score` must be 1 to 5, got {}",
            rating.score
        )));
    }
    let answer = CsatAnswer {
        external_id: format!("{}/{}", rating.visitor_id, rating.rating_id),
        subject: Identity::channel_user(&rating.visitor_id),
        score: rating.score,
        scale: 5,
        comment: rating.comment.map(|c| c.chars().take(2000).collect()),
        at: Some(crate::now_ms()),
    };
    Ok(WebhookOutcome::new(Response::json(202, &serde_json::json!({ "accepted": true }))).with_event(answer))
}

fn check_id(field: &str, value: &str) -> Result<(), PluginError> {
    let ok = !value.is_empty()
        && value.len() <= MAX_ID_LEN
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if ok {
        Ok(())
    } else {
        Err(PluginError::bad_request(format!(
            "`{field}` must be 1 to {MAX_ID_LEN} characters of letters, digits, '-', '_' or '.'"
        )))
    }
}

/// The identities the visitor states, verified when the signature proves them.
fn verified_claims(host: &Host, message: &VisitorMessage) -> Result<Vec<Identity>, PluginError> {
    let user_id = message.user_id.as_deref().filter(|s| !s.is_empty());
    let email = message.email.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let require_signed: bool = host.config_or("require_signed_users", false)?;
    let secret = host.secret(IDENTITY_SECRET);

    // The signature covers the user id when there is one, else the email.
    let signed_value = user_id.or(email);
    let verified = match (&message.user_hash, signed_value) {
        (Some(hash), Some(value)) => {
            let Some(secret) = secret.as_deref() else {
                return Err(PluginError::unauthorized(
                    "user_hash given but no identity secret is configured for this web chat",
                ));
            };
            if !verify_hmac_sha256_hex(secret.as_bytes(), value.as_bytes(), hash) {
                host.warn("refused a web chat message with a wrong user_hash");
                return Err(PluginError::unauthorized("user_hash does not match"));
            }
            true
        }
        (Some(_), None) => {
            return Err(PluginError::bad_request("user_hash given without user_id or email"));
        }
        (None, Some(_)) if user_id.is_some() && (require_signed || secret.is_some()) => {
            return Err(PluginError::unauthorized(
                "user_id needs a user_hash signed with the identity secret",
            ));
        }
        (None, _) => false,
    };

    let mut claims = Vec::new();
    if let Some(id) = user_id {
        let identity = Identity::external_id(id);
        claims.push(if verified { identity.verified() } else { identity });
    }
    if let Some(email) = email {
        let identity = Identity::email(email);
        // Only an email that was itself signed counts as verified.
        claims.push(if verified && user_id.is_none() {
            identity.verified()
        } else {
            identity
        });
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Webchat;
    use omni_plugin_sdk::crypto::hmac_sha256_hex;
    use serde_json::json;

    fn post(body: serde_json::Value) -> Request {
        Request::post_json("/messages", &body)
    }

    fn message(outcome: &WebhookOutcome) -> &InboundMessage {
        match &outcome.events[..] {
            [Event::MessageReceived(m)] => m,
            other => panic!("expected one message, got {other:?}"),
        }
    }

    #[test]
    fn anonymous_visitor_message_becomes_an_event() {
        let mock = testing::MockHost::new();
        let body = json!({"visitor_id": "v-1", "message_id": "m-1", "text": "  hello  ", "name": "Ann"});
        let outcome = Webchat::handle_webhook(&mock.host(), post(body)).unwrap();
        assert_eq!(outcome.response.status, 202);
        let m = message(&outcome);
        assert_eq!(m.external_id, "v-1/m-1");
        assert_eq!(m.sender, Identity::channel_user("v-1"));
        assert_eq!(m.text, "hello");
        assert_eq!(m.display_name.as_deref(), Some("Ann"));
        assert!(m.claims.is_empty());
    }

    #[test]
    fn same_message_twice_has_the_same_external_id() {
        let mock = testing::MockHost::new();
        let body = json!({"visitor_id": "v-1", "message_id": "m-1", "text": "hi"});
        let a = Webchat::handle_webhook(&mock.host(), post(body.clone())).unwrap();
        let b = Webchat::handle_webhook(&mock.host(), post(body)).unwrap();
        assert_eq!(message(&a).external_id, message(&b).external_id);
    }

    #[test]
    fn signed_user_is_verified() {
        let mock = testing::MockHost::new().with_secret(IDENTITY_SECRET, "s3cret");
        let hash = hmac_sha256_hex(b"s3cret", b"user-42");
        let body = json!({"visitor_id": "v-1", "message_id": "m-1", "text": "hi",
                          "user_id": "user-42", "email": "Ann@Example.com", "user_hash": hash});
        let outcome = Webchat::handle_webhook(&mock.host(), post(body)).unwrap();
        let m = message(&outcome);
        assert_eq!(m.claims[0], Identity::external_id("user-42").verified());
        // The email was not signed, so it stays a claim.
        assert_eq!(m.claims[1], Identity::email("Ann@Example.com"));
    }

    #[test]
    fn signed_email_is_verified_when_there_is_no_user_id() {
        let mock = testing::MockHost::new().with_secret(IDENTITY_SECRET, "s3cret");
        let hash = hmac_sha256_hex(b"s3cret", b"ann@example.com");
        let body = json!({"visitor_id": "v-1", "message_id": "m-1", "text": "hi",
                          "email": "ann@example.com", "user_hash": hash});
        let outcome = Webchat::handle_webhook(&mock.host(), post(body)).unwrap();
        assert_eq!(
            message(&outcome).claims,
            vec![Identity::email("ann@example.com").verified()]
        );
    }

    #[test]
    fn forged_hash_is_refused() {
        let mock = testing::MockHost::new().with_secret(IDENTITY_SECRET, "s3cret");
        let forged = hmac_sha256_hex(b"guess", b"user-42");
        let body = json!({"visitor_id": "v-1", "message_id": "m-1", "text": "hi",
                          "user_id": "user-42", "user_hash": forged});
        let err = Webchat::handle_webhook(&mock.host(), post(body)).unwrap_err();
        assert_eq!(err.status(), 401);
    }

    #[test]
    fn unsigned_user_id_is_refused_when_a_secret_is_configured() {
        let mock = testing::MockHost::new().with_secret(IDENTITY_SECRET, "s3cret");
        let body = json!({"visitor_id": "v-1", "message_id": "m-1", "text": "hi", "user_id": "user-42"});
        let err = Webchat::handle_webhook(&mock.host(), post(body)).unwrap_err();
        assert_eq!(err.status(), 401);
    }

    #[test]
    fn unsigned_user_id_without_secret_is_an_unverified_claim() {
        let mock = testing::MockHost::new();
        let body = json!({"visitor_id": "v-1", "message_id": "m-1", "text": "hi", "user_id": "user-42"});
        let outcome = Webchat::handle_webhook(&mock.host(), post(body)).unwrap();
        assert_eq!(message(&outcome).claims, vec![Identity::external_id("user-42")]);
    }

    #[test]
    fn malformed_messages_get_clear_errors() {
        let mock = testing::MockHost::new();
        let cases = [
            (json!({"visitor_id": "v-1", "message_id": "m-1"}), "text"),
            (
                json!({"visitor_id": "", "message_id": "m-1", "text": "x"}),
                "visitor_id",
            ),
            (
                json!({"visitor_id": "v 1", "message_id": "m-1", "text": "x"}),
                "visitor_id",
            ),
            (
                json!({"visitor_id": "v-1", "message_id": "m-1", "text": "   "}),
                "empty",
            ),
            (json!({"visitor_id": "v-1", "message_id": "m-1", "text": 5}), "string"),
        ];
        for (body, needle) in cases {
            let err = Webchat::handle_webhook(&mock.host(), post(body.clone())).unwrap_err();
            assert_eq!(err.status(), 400, "{body}");
            assert!(err.message().contains(needle), "{body}: {err}");
        }
        let not_json = Request::post("/messages", "hello").with_header("content-type", "application/json");
        assert_eq!(
            Webchat::handle_webhook(&mock.host(), not_json).unwrap_err().status(),
            400
        );
        let wrong_type = Request::post("/messages", "{}").with_header("content-type", "text/plain");
        assert_eq!(
            Webchat::handle_webhook(&mock.host(), wrong_type).unwrap_err().status(),
            415
        );
    }

    #[test]
    fn ratings_become_csat_answers() {
        let mock = testing::MockHost::new();
        let body = json!({"visitor_id": "v-1", "rating_id": "r-1", "score": 4, "comment": "quick!"});
        let outcome = Webchat::handle_webhook(&mock.host(), Request::post_json("/csat", &body)).unwrap();
        match &outcome.events[..] {
            [Event::Csat(answer)] => {
                assert_eq!((answer.score, answer.scale), (4, 5));
                assert_eq!(answer.external_id, "v-1/r-1");
                assert_eq!(answer.subject, Identity::channel_user("v-1"));
            }
            other => panic!("{other:?}"),
        }
        let bad = json!({"visitor_id": "v-1", "rating_id": "r-2", "score": 9});
        let err = Webchat::handle_webhook(&mock.host(), Request::post_json("/csat", &bad)).unwrap_err();
        assert_eq!(err.status(), 400);
    }

    #[test]
    fn overlong_text_is_refused() {
        let mock = testing::MockHost::new().with_config("max_text_length", json!(5));
        let body = json!({"visitor_id": "v-1", "message_id": "m-1", "text": "123456"});
        let err = Webchat::handle_webhook(&mock.host(), post(body)).unwrap_err();
        assert!(err.message().contains("longer than 5"));
    }
}
