//! Outbound replies: build the email (our Message-ID, "Re: <subject>",
//! `In-Reply-To` and `References` from the answered email's thread record),
//! send it through the configured provider and remember the provider's id.

use omni_plugin_sdk::prelude::*;

use crate::config::{self, Provider};
use crate::threading::{self, ThreadRecord};
use crate::{mailgun, postmark, sender_auth, sendgrid};

/// A reply, ready for a provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingEmail {
    /// Our Message-ID, without brackets; the receipt's external id.
    pub message_id: String,
    /// The sender address.
    pub from: String,
    /// The sender's display name.
    pub from_name: Option<String>,
    /// The recipient address.
    pub to: String,
    /// Where replies should go, when not to `from`.
    pub reply_to: Option<String>,
    /// The subject.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// An HTML body, only when tracking opens.
    pub html: Option<String>,
    /// The answered email's id, without brackets.
    pub in_reply_to: Option<String>,
    /// The thread's ids, oldest first, without brackets.
    pub references: Vec<String>,
    /// Whether the provider should track opens.
    pub track_opens: bool,
}

impl OutgoingEmail {
    /// `Message-ID`, `In-Reply-To` and `References` header values.
    pub fn threading_headers(&self) -> Vec<(&'static str, String)> {
        let mut headers = vec![("Message-ID", format!("<{}>", self.message_id))];
        if let Some(parent) = self.in_reply_to.as_ref().filter(|id| !id.starts_with("sha256:")) {
            headers.push(("In-Reply-To", format!("<{parent}>")));
        }
        if let Some(references) = threading::header_ids(&self.references) {
            headers.push(("References", references));
        }
        headers
    }

    /// The From mailbox: `"Name" <address>` or the bare address.
    pub fn from_mailbox(&self) -> String {
        match &self.from_name {
            Some(name) => {
                let escaped = name.replace('\\', "\\\\").replace('"', "\\\"");
                format!("\"{escaped}\" <{}>", self.from)
            }
            None => self.from.clone(),
        }
    }
}

/// Sends `message` to `recipient` (an email address) through the configured provider.
pub fn send(host: &Host, message: OutboundMessage, recipient: Identity) -> Result<SendReceipt, SendError> {
    if recipient.kind != IdentityKind::Email {
        return Err(SendError::permanent(format!(
            "the email connector sends to email addresses, not {:?} identities",
            recipient.kind
        )));
    }
    let to = recipient.value.trim().to_owned();
    if !is_plain_address(&to) {
        return Err(SendError::permanent(format!("{to:?} is not an email address")));
    }
    let provider: Provider = host
        .config("provider")
        .map_err(settings_error)?
        .ok_or_else(|| SendError::permanent("config `provider` is not set (postmark, sendgrid or mailgun)"))?;
    let from: String = host
        .config("from")
        .map_err(settings_error)?
        .filter(|f: &String| is_plain_address(f.trim()))
        .ok_or_else(|| SendError::permanent("config `from` (the sender address) is not set"))?;
    let from = from.trim().to_owned();
    let from_domain =
        sender_auth::domain_of(&from).ok_or_else(|| SendError::permanent("config `from` has no domain"))?;
    let api_key = host
        .secret(config::API_KEY)
        .filter(|k| !k.is_empty())
        .ok_or_else(|| SendError::permanent("the secret `api_key` (the provider's API key) is not configured"))?;
    let api_base: String = host
        .config("api_base")
        .map_err(settings_error)?
        .unwrap_or_else(|| provider.default_api_base().to_owned());
    let api_base = api_base.trim_end_matches('/');

    let email = compose(host, &message, to, from, &from_domain)?;
    let provider_id = match provider {
        Provider::Postmark => {
            let stream: String = host
                .config_or("message_stream", "outbound".to_owned())
                .map_err(settings_error)?;
            postmark::send(host, api_base, &api_key, &email, &stream)?
        }
        Provider::Sendgrid => sendgrid::send(host, api_base, &api_key, &email)?,
        Provider::Mailgun => {
            let domain: String = host
                .config_or("mailgun_domain", from_domain.clone())
                .map_err(settings_error)?;
            mailgun::send(host, api_base, &api_key, &domain, &email)?
        }
    };
    if let Some(provider_id) = provider_id {
        // The provider took the message: failing now would send it twice.
        if let Err(e) = host.kv_set_json(&threading::sent_key(provider.name(), &provider_id), &email.message_id) {
            host.warn(&format!("could not remember {} id {provider_id}: {e}", provider.name()));
        }
    }
    Ok(SendReceipt::sent(email.message_id))
}

/// Builds the reply from the host's message and the answered email's thread record.
pub fn compose(
    host: &Host,
    message: &OutboundMessage,
    to: String,
    from: String,
    from_domain: &str,
) -> Result<OutgoingEmail, SendError> {
    let parent = message.reply_to.as_deref().and_then(threading::external_id);
    let record: Option<ThreadRecord> = match &parent {
        Some(id) => threading::recall(host, id).map_err(|e| SendError::retryable(e.message().to_owned()))?,
        None => None,
    };
    let default_subject: String = host
        .config_or("default_subject", config::DEFAULT_SUBJECT.to_owned())
        .map_err(settings_error)?;
    let subject = match &record {
        Some(record) => threading::reply_subject(record.subject.as_deref(), &default_subject),
        None => default_subject,
    };
    let mut chain: Vec<String> = match &record {
        Some(record) => record.references.clone(),
        // Without a record the thread id is still the root of the thread.
        None => message.thread_id.iter().cloned().collect(),
    };
    chain.extend(parent.iter().cloned());
    let references = threading::cap_references(chain);

    let mut text = message.text.clone();
    let links: Vec<String> = message
        .attachments
        .iter()
        .filter_map(|a| {
            let url = a.url.as_deref()?;
            Some(match &a.name {
                Some(name) => format!("- {name}: {url}"),
                None => format!("- {url}"),
            })
        })
        .collect();
    if !links.is_empty() {
        // Providers want attachment content; the host gives URLs, so they become links.
        text.push_str("\n\nAttachments:\n");
        text.push_str(&links.join("\n"));
    }
    let track_opens: bool = host.config_or("track_opens", false).map_err(settings_error)?;
    let html = track_opens.then(|| text_to_html(&text));
    let from_name: Option<String> = host.config("from_name").map_err(settings_error)?;
    let reply_to: Option<String> = host.config("reply_to").map_err(settings_error)?;

    Ok(OutgoingEmail {
        message_id: threading::our_message_id(&message.id, from_domain),
        from,
        from_name: from_name.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty()),
        to,
        reply_to: reply_to.map(|r| r.trim().to_owned()).filter(|r| is_plain_address(r)),
        subject,
        text,
        html,
        in_reply_to: parent,
        references,
        track_opens,
    })
}

/// A single bare address: one `@`, no spaces, brackets, commas or line breaks.
fn is_plain_address(address: &str) -> bool {
    address.matches('@').count() == 1
        && !address.starts_with('@')
        && !address.ends_with('@')
        && !address
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>,;\"".contains(c))
}

/// Escaped text with line breaks, for the HTML part open tracking needs.
fn text_to_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    out.push_str("<html><body><p>");
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\n' => out.push_str("<br>\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out.push_str("</p></body></html>");
    out
}

/// A config value of the wrong shape cannot fix itself: the send fails for good.
fn settings_error(error: PluginError) -> SendError {
    SendError::permanent(error.message().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert!(is_plain_address("ann@example.com"));
        assert!(!is_plain_address("Ann <ann@example.com>"));
        assert!(!is_plain_address("a@b.com, c@d.com"));
        assert!(!is_plain_address("ann@example.com\r\nBcc: x@y"));
        assert!(!is_plain_address("nobody"));
    }

    #[test]
    fn html_part_is_escaped() {
        assert_eq!(
            text_to_html("a < b\r\n& \"c\""),
            "<html><body><p>a &lt; b<br>\n&amp; &quot;c&quot;</p></body></html>"
        );
    }

    #[test]
    fn from_mailbox_quotes_the_name() {
        let email = OutgoingEmail {
            message_id: "m@x".into(),
            from: "support@acme.example".into(),
            from_name: Some("Acme \"Best\" Support".into()),
            to: "ann@example.com".into(),
            reply_to: None,
            subject: "s".into(),
            text: "t".into(),
            html: None,
            in_reply_to: None,
            references: Vec::new(),
            track_opens: false,
        };
        assert_eq!(
            email.from_mailbox(),
            "\"Acme \\\"Best\\\" Support\" <support@acme.example>"
        );
        assert_eq!(email.threading_headers(), vec![("Message-ID", "<m@x>".to_owned())]);
    }
}
