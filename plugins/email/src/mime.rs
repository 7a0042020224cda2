//! RFC 5322 messages and header blocks, read with mail-parser into the
//! connector's view of one email ([`ParsedEmail`]). The provider shapes that
//! give headers separately (SendGrid's `headers` field, Mailgun's
//! `message-headers`, Postmark's `Headers`) are turned back into a header
//! block and read by the same parser, so Message-IDs, dates and addresses
//! are decoded the same way whatever the provider.

use mail_parser::{HeaderName, HeaderValue, Message, MessageParser, MimeHeaders, PartType};
use omni_plugin_sdk::prelude::*;
use sha2::{Digest, Sha256};

/// One inbound email, as far as the connector needs it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedEmail {
    /// The Message-ID, without angle brackets.
    pub message_id: Option<String>,
    /// The From address.
    pub from_address: Option<String>,
    /// The From display name.
    pub from_name: Option<String>,
    /// The decoded subject.
    pub subject: Option<String>,
    /// The Date header, ms since the Unix epoch.
    pub sent_at: Option<i64>,
    /// The first id of In-Reply-To, without angle brackets.
    pub in_reply_to: Option<String>,
    /// The ids of References, oldest first, without angle brackets.
    pub references: Vec<String>,
    /// The text/plain body (or the HTML body converted to text).
    pub text: Option<String>,
    /// The text/html body.
    pub html: Option<String>,
    /// Attachment metadata.
    pub attachments: Vec<Attachment>,
    /// The values of the Authentication-Results headers, top first.
    pub authentication_results: Vec<String>,
    /// A stable hash of the message, the external id when there is no Message-ID.
    pub fingerprint: String,
}

/// Parses a raw RFC 5322 message.
pub fn parse_raw(raw: &[u8]) -> Result<ParsedEmail, PluginError> {
    let message = MessageParser::default()
        .parse(raw)
        // RFC 5322 field names have no spaces; prose is not a header.
        .filter(|m| m.headers().iter().any(|h| !h.name().contains(char::is_whitespace)))
        .ok_or_else(|| PluginError::bad_request("the body is not an RFC 5322 message (no header found)"))?;
    let mut email = read_headers(&message);
    let texts: Vec<String> = (0..message.text_body_count())
        .filter_map(|i| message.body_text(i))
        .map(|t| t.into_owned())
        .filter(|t| !t.trim().is_empty())
        .collect();
    email.text = (!texts.is_empty()).then(|| texts.join("\n"));
    email.html = message
        .html_body
        .iter()
        .filter_map(|&id| message.parts.get(id as usize))
        .find_map(|part| match &part.body {
            PartType::Html(html) => Some(html.to_string()),
            _ => None,
        });
    email.attachments = message
        .attachments()
        .map(|part| Attachment {
            name: part.attachment_name().map(str::to_owned),
            content_type: part
                .content_type()
                .map(|ct| match ct.subtype() {
                    Some(sub) => format!("{}/{}", ct.ctype(), sub),
                    None => ct.ctype().to_owned(),
                })
                .unwrap_or_else(|| default_content_type(&part.body).to_owned())
                .to_ascii_lowercase(),
            size: Some(part.len() as u64),
            url: None,
        })
        .collect();
    email.fingerprint = fingerprint(&[raw]);
    Ok(email)
}

/// Parses a block of header lines (no body); empty when nothing parses.
pub fn parse_header_block(block: &str) -> ParsedEmail {
    let mut raw = block.trim_end().to_owned();
    raw.push_str("\r\n\r\n");
    match MessageParser::default().parse_headers(raw.as_bytes()) {
        Some(message) => read_headers(&message),
        None => ParsedEmail::default(),
    }
}

/// Writes name/value pairs as a header block, dropping invalid names and
/// unfolding values so that one value cannot smuggle in another header.
pub fn header_block<'a>(headers: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::new();
    for (name, value) in headers {
        let name = name.trim();
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
            continue;
        }
        let value: String = value
            .chars()
            .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
            .collect();
        out.push_str(name);
        out.push_str(": ");
        out.push_str(value.trim());
        out.push_str("\r\n");
    }
    out
}

/// The address and display name of one mailbox (`Ann <ann@example.com>`).
pub fn parse_mailbox(value: &str) -> Option<(String, Option<String>)> {
    let parsed = parse_header_block(&header_block([("From", value)]));
    parsed.from_address.map(|address| (address, parsed.from_name))
}

/// `sha256:` and the hex SHA-256 of the parts, each followed by a NUL.
pub fn fingerprint(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
        hasher.update([0u8]);
    }
    format!("sha256:{}", hex::encode(hasher.finalize()))
}

fn read_headers(message: &Message<'_>) -> ParsedEmail {
    let from = message.from().and_then(|a| a.first());
    ParsedEmail {
        message_id: message
            .header(HeaderName::MessageId)
            .and_then(|v| ids(v).into_iter().next()),
        from_address: from
            .and_then(|a| a.address())
            .map(|a| a.trim().to_owned())
            .filter(|a| a.contains('@')),
        from_name: from
            .and_then(|a| a.name())
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty()),
        subject: message.subject().map(|s| s.trim().to_owned()),
        sent_at: message
            .date()
            .filter(|d| d.is_valid())
            .map(|d| d.to_timestamp().saturating_mul(1000)),
        in_reply_to: ids(message.in_reply_to()).into_iter().next(),
        references: ids(message.references()),
        authentication_results: message
            .headers_raw()
            .filter(|(name, _)| name.eq_ignore_ascii_case("authentication-results"))
            .map(|(_, value)| value.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect(),
        ..ParsedEmail::default()
    }
}

/// The message ids of an id header, without brackets.
fn ids(value: &HeaderValue<'_>) -> Vec<String> {
    let list: Vec<String> = match value {
        HeaderValue::Text(id) => vec![id.to_string()],
        HeaderValue::TextList(ids) => ids.iter().map(|id| id.to_string()).collect(),
        _ => Vec::new(),
    };
    list.into_iter()
        .map(|id| {
            id.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .trim()
                .to_owned()
        })
        .filter(|id| !id.is_empty())
        .collect()
}

fn default_content_type(body: &PartType<'_>) -> &'static str {
    match body {
        PartType::Text(_) => "text/plain",
        PartType::Html(_) => "text/html",
        PartType::Message(_) => "message/rfc822",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIMPLE: &str = "From: =?UTF-8?Q?Zo=C3=AB?= Example <zoe@example.com>\r\n\
To: support@acme.example\r\n\
Subject: Hello\r\n\
Date: Thu, 24 Mar 2011 15:59:30 -0400\r\n\
Message-ID: <abc@mail.example.com>\r\n\
In-Reply-To: <parent@acme.example>\r\n\
References: <root@acme.example>\r\n <parent@acme.example>\r\n\
Authentication-Results: mx.acme.example;\r\n dkim=pass header.d=example.com\r\n\
\r\n\
Hi there\r\n";

    #[test]
    fn headers_and_body_of_a_raw_message() {
        let email = parse_raw(SIMPLE.as_bytes()).unwrap();
        assert_eq!(email.message_id.as_deref(), Some("abc@mail.example.com"));
        assert_eq!(email.from_address.as_deref(), Some("zoe@example.com"));
        assert_eq!(email.from_name.as_deref(), Some("Zoë Example"));
        assert_eq!(email.subject.as_deref(), Some("Hello"));
        // 2011-03-24T19:59:30Z
        assert_eq!(email.sent_at, Some(1_300_996_770_000));
        assert_eq!(email.in_reply_to.as_deref(), Some("parent@acme.example"));
        assert_eq!(email.references, vec!["root@acme.example", "parent@acme.example"]);
        assert_eq!(email.text.as_deref(), Some("Hi there\r\n"));
        assert_eq!(email.html, None);
        assert!(email.attachments.is_empty());
        assert_eq!(
            email.authentication_results,
            vec!["mx.acme.example; dkim=pass header.d=example.com"]
        );
        assert_eq!(email.fingerprint, fingerprint(&[SIMPLE.as_bytes()]));
        assert!(email.fingerprint.starts_with("sha256:") && email.fingerprint.len() == 71);
    }

    #[test]
    fn not_a_message() {
        assert_eq!(parse_raw(b"").unwrap_err().status(), 400);
        assert_eq!(parse_raw(b"just words, no headers").unwrap_err().status(), 400);
    }

    #[test]
    fn header_blocks_cannot_be_smuggled_into() {
        let block = header_block([
            ("Subject", "a\r\nFrom: evil@example.com"),
            ("Bad Name", "x"),
            ("From", "ann@example.com"),
        ]);
        assert_eq!(block, "Subject: a  From: evil@example.com\r\nFrom: ann@example.com\r\n");
        let email = parse_header_block(&block);
        assert_eq!(email.from_address.as_deref(), Some("ann@example.com"));
    }

    #[test]
    fn mailboxes() {
        assert_eq!(
            parse_mailbox("\"Doe, Jane\" <jane@example.com>"),
            Some(("jane@example.com".into(), Some("Doe, Jane".into())))
        );
        assert_eq!(
            parse_mailbox("jane@example.com"),
            Some(("jane@example.com".into(), None))
        );
        assert_eq!(parse_mailbox("no address here"), None);
    }
}
