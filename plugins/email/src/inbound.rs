//! The inbound routes (`POST /inbound`, `POST /inbound/mime`): authenticate
//! the webhook, read the provider's shape into a [`ParsedEmail`] and turn it
//! into one `InboundMessage`.
//!
//! Shapes, by content type: `application/json` is Postmark's inbound
//! webhook; `multipart/form-data` and `application/x-www-form-urlencoded`
//! are SendGrid Inbound Parse or a Mailgun route (told apart by their
//! fields); `message/rfc822`, `text/plain`, `application/octet-stream` (or
//! none) is a raw RFC 5322 message. Whenever the whole raw message is
//! available (SendGrid's "send raw" `email` field, Mailgun's `body-mime`,
//! Postmark's `RawEmail`) it is what gets parsed.

use mail_parser::decoders::html::html_to_text;
use omni_plugin_sdk::prelude::*;

use crate::auth::{self, MailgunSignature};
use crate::config::{self, InboundAuth};
use crate::form::FormData;
use crate::mime::ParsedEmail;
use crate::threading::{self, ThreadRecord};
use crate::{mailgun, mime, postmark, quote, sender_auth, sendgrid};

/// Most attachments on one message (the host's list limit).
pub const MAX_ATTACHMENTS: usize = 32;

/// Handles `POST /inbound` and `POST /inbound/mime`.
pub fn receive(host: &Host, request: &Request) -> Result<WebhookOutcome, PluginError> {
    let mode = config::inbound_auth(host)?;
    if mode == InboundAuth::Basic {
        auth::check_basic(host, request)?;
    }
    if request.body.is_empty() {
        return Err(PluginError::bad_request("the body is empty"));
    }
    let content_type = request.header("content-type").unwrap_or("");
    let (email, sendgrid_dkim) = match FormData::parse(content_type, &request.body) {
        Some(form) => {
            let form = form?;
            if mode == InboundAuth::Mailgun {
                let (timestamp, token, signature) =
                    (form.text("timestamp"), form.text("token"), form.text("signature"));
                auth::check_mailgun(
                    host,
                    MailgunSignature {
                        timestamp: timestamp.as_deref(),
                        token: token.as_deref(),
                        signature: signature.as_deref(),
                    },
                )?;
            }
            if mailgun::is_inbound_form(&form) {
                (mailgun::inbound_email(&form)?, None)
            } else {
                (sendgrid::inbound_email(&form)?, form.non_empty("dkim"))
            }
        }
        None => {
            let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
            let is_json = essence == "application/json" || essence.ends_with("+json");
            let is_raw = matches!(
                essence.as_str(),
                "" | "message/rfc822" | "text/plain" | "application/octet-stream"
            );
            if !is_json && !is_raw {
                return Err(PluginError::UnsupportedMediaType(format!(
                    "expected a JSON, form or message/rfc822 body, got {content_type:?}"
                )));
            }
            if mode == InboundAuth::Mailgun {
                host.warn("refused an unsigned email webhook: Mailgun signs only its form posts");
                return Err(PluginError::unauthorized(
                    "inbound_auth is \"mailgun\" but this body carries no Mailgun signature",
                ));
            }
            if is_json {
                (postmark::inbound_email(request)?, None)
            } else {
                (mime::parse_raw(&request.body)?, None)
            }
        }
    };
    let (message, record) = to_message(host, email, sendgrid_dkim.as_deref())?;
    threading::remember(host, &message.external_id, &record)?;
    let body = serde_json::json!({ "accepted": true, "external_id": message.external_id });
    Ok(WebhookOutcome::new(Response::json(200, &body)).with_event(message))
}

/// Builds the event and the thread record of one email.
pub fn to_message(
    host: &Host,
    email: ParsedEmail,
    sendgrid_dkim: Option<&str>,
) -> Result<(InboundMessage, ThreadRecord), PluginError> {
    let address = email
        .from_address
        .clone()
        .filter(|a| a.contains('@'))
        .ok_or_else(|| PluginError::bad_request("the email has no From address"))?;
    let external_id = email
        .message_id
        .as_deref()
        .and_then(threading::external_id)
        .unwrap_or_else(|| email.fingerprint.clone());
    let verified = sender_verified(host, &email, &address, sendgrid_dkim)?;
    // Only the provider's own authentication results prove the From address.
    let sender = if verified {
        Identity::email(&address).verified()
    } else {
        Identity::email(&address)
    };
    let reply_to = email
        .in_reply_to
        .as_deref()
        .and_then(threading::external_id)
        .filter(|id| id != &external_id);
    let references: Vec<String> = threading::cap_references(email.references.clone())
        .into_iter()
        .filter(|id| id != &external_id)
        .collect();
    let thread_id = references
        .first()
        .cloned()
        .or_else(|| reply_to.clone())
        .unwrap_or_else(|| external_id.clone());

    let body = email
        .text
        .as_deref()
        .filter(|t| !t.trim().is_empty())
        .map(str::to_owned)
        .or_else(|| email.html.as_deref().map(html_to_text))
        .map(|b| quote::strip(&b))
        .unwrap_or_default();
    let subject = email.subject.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let is_reply = reply_to.is_some() || !references.is_empty();
    // A new thread's subject says what it is about; a reply's is "Re: …".
    let text = match subject {
        Some(subject) if !is_reply && body.is_empty() => format!("Subject: {subject}"),
        Some(subject) if !is_reply => format!("Subject: {subject}\n\n{body}"),
        _ => body,
    };
    let text = truncate(&text, config::max_text_bytes(host)?);

    let mut attachments = email.attachments;
    if attachments.len() > MAX_ATTACHMENTS {
        host.warn(&format!(
            "email {external_id} has {} attachments; only the first {MAX_ATTACHMENTS} are reported",
            attachments.len()
        ));
        attachments.truncate(MAX_ATTACHMENTS);
    }

    let record = ThreadRecord {
        subject: subject.map(str::to_owned),
        references: references.clone(),
    };
    let message = InboundMessage {
        external_id,
        sender,
        claims: Vec::new(),
        display_name: email.from_name.filter(|n| !n.eq_ignore_ascii_case(&address)),
        text,
        attachments,
        thread_id: Some(thread_id),
        reply_to,
        references,
        sent_at: email.sent_at.filter(|ms| *ms > 0),
    };
    Ok((message, record))
}

/// Whether the provider vouches for the From address (see [`sender_auth`]).
fn sender_verified(
    host: &Host,
    email: &ParsedEmail,
    address: &str,
    sendgrid_dkim: Option<&str>,
) -> Result<bool, PluginError> {
    if !host.config_or("trust_authentication_results", false)? {
        return Ok(false);
    }
    let Some(domain) = sender_auth::domain_of(address) else {
        return Ok(false);
    };
    if sendgrid_dkim.is_some_and(|field| sender_auth::sendgrid_dkim_proves(field, &domain)) {
        return Ok(true);
    }
    match host.config::<String>("authserv_id")? {
        Some(authserv_id) => Ok(sender_auth::proves(
            &email.authentication_results,
            &authserv_id,
            &domain,
        )),
        None => {
            if !email.authentication_results.is_empty() {
                host.warn(
                    "trust_authentication_results is on but authserv_id is not set: \
                     Authentication-Results headers are not trusted",
                );
            }
            Ok(false)
        }
    }
}

/// Cuts text to at most `max` bytes on a character boundary, marking the cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    const MARK: &str = "\n[…]";
    let mut end = max.saturating_sub(MARK.len());
    while end > 0 && !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{MARK}", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_respects_characters() {
        assert_eq!(truncate("hello", 10), "hello");
        let cut = truncate(&"é".repeat(100), 20);
        assert!(cut.len() <= 20, "{}", cut.len());
        assert!(cut.ends_with("\n[…]"));
        assert!(cut.starts_with("éééé"));
    }

    fn email(text: &str) -> ParsedEmail {
        ParsedEmail {
            message_id: Some("m1@example.com".into()),
            from_address: Some("ann@example.com".into()),
            from_name: Some("Ann".into()),
            subject: Some("Broken order".into()),
            text: Some(text.into()),
            fingerprint: "sha256:00".into(),
            ..ParsedEmail::default()
        }
    }

    #[test]
    fn new_threads_carry_their_subject() {
        let mock = testing::MockHost::new();
        let (message, record) = to_message(&mock.host(), email("It arrived broken."), None).unwrap();
        assert_eq!(message.text, "Subject: Broken order\n\nIt arrived broken.");
        assert_eq!(message.thread_id.as_deref(), Some("m1@example.com"));
        assert_eq!(record.subject.as_deref(), Some("Broken order"));
        let (empty, _) = to_message(&mock.host(), email(""), None).unwrap();
        assert_eq!(empty.text, "Subject: Broken order");
    }

    #[test]
    fn html_only_emails_become_text() {
        let mock = testing::MockHost::new();
        let mut html = email("");
        html.text = None;
        html.html = Some("<html><body><p>Hello <b>there</b></p></body></html>".into());
        html.in_reply_to = Some("r@acme.example".into());
        let (message, _) = to_message(&mock.host(), html, None).unwrap();
        assert_eq!(message.text, "Hello there");
    }

    #[test]
    fn no_from_is_a_bad_request() {
        let mock = testing::MockHost::new();
        let mut anonymous = email("x");
        anonymous.from_address = None;
        assert_eq!(to_message(&mock.host(), anonymous, None).unwrap_err().status(), 400);
    }

    #[test]
    fn too_many_attachments_are_cut_to_the_host_limit() {
        let mock = testing::MockHost::new();
        let mut many = email("x");
        many.attachments = (0..40)
            .map(|i| Attachment {
                name: Some(format!("{i}.txt")),
                content_type: "text/plain".into(),
                size: Some(1),
                url: None,
            })
            .collect();
        let (message, _) = to_message(&mock.host(), many, None).unwrap();
        assert_eq!(message.attachments.len(), MAX_ATTACHMENTS);
    }
}
