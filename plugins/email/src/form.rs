//! Form bodies of inbound-parse webhooks.
//!
//! `multipart/form-data` is a MIME multipart body (RFC 7578), so it is parsed
//! by mail-parser: given the request's `Content-Type` as a header line in
//! front of the body it splits the parts and reads each part's
//! `Content-Disposition: form-data; name=…; filename=…`. Field values are
//! taken as the raw bytes between the boundaries (decoded with the charset
//! SendGrid names in its `charsets` field), files are kept as metadata only.
//! `application/x-www-form-urlencoded` is read with `form_urlencoded`.

use std::collections::HashMap;

use mail_parser::decoders::charsets::map::charset_decoder;
use mail_parser::{MessageParser, MessagePart, MimeHeaders};
use omni_plugin_sdk::prelude::*;

/// A text field of the form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormField {
    /// The field name.
    pub name: String,
    /// The raw value.
    pub value: Vec<u8>,
}

/// An uploaded file of the form, without its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormFile {
    /// The field name, e.g. `attachment1` (SendGrid) or `attachment-1` (Mailgun).
    pub field: String,
    /// The file name the sender gave.
    pub filename: Option<String>,
    /// The part's content type, `application/octet-stream` when absent.
    pub content_type: String,
    /// Size of the content in bytes.
    pub size: u64,
}

/// The fields and files of a form body, in order.
#[derive(Debug, Clone, Default)]
pub struct FormData {
    fields: Vec<FormField>,
    files: Vec<FormFile>,
    charsets: HashMap<String, String>,
}

impl FormData {
    /// Parses a body of the given content type; `None` when the content type is not a form.
    pub fn parse(content_type: &str, body: &[u8]) -> Option<Result<Self, PluginError>> {
        let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        let parsed = match essence.as_str() {
            "multipart/form-data" => Self::multipart(content_type, body),
            "application/x-www-form-urlencoded" => Ok(Self::urlencoded(body)),
            _ => return None,
        };
        Some(parsed.and_then(|form| {
            if form.fields.is_empty() && form.files.is_empty() {
                Err(PluginError::bad_request("the form body has no fields"))
            } else {
                Ok(form)
            }
        }))
    }

    /// Parses `multipart/form-data` with mail-parser.
    pub fn multipart(content_type: &str, body: &[u8]) -> Result<Self, PluginError> {
        if content_type.contains(['\r', '\n']) {
            return Err(PluginError::bad_request("the content type contains a line break"));
        }
        let mut raw = Vec::with_capacity(body.len() + content_type.len() + 20);
        raw.extend_from_slice(b"Content-Type: ");
        raw.extend_from_slice(content_type.as_bytes());
        raw.extend_from_slice(b"\r\n\r\n");
        raw.extend_from_slice(body);
        let message = MessageParser::default()
            .parse(&raw[..])
            .ok_or_else(|| PluginError::bad_request("the multipart body could not be parsed"))?;
        let Some(children) = message.parts.first().and_then(|root| root.sub_parts()) else {
            return Err(PluginError::bad_request(
                "the multipart/form-data body has no boundary parameter or no parts",
            ));
        };
        let mut form = FormData::default();
        for &id in children {
            let Some(part) = message.parts.get(id as usize) else {
                continue;
            };
            let Some(name) = part.content_disposition().and_then(|d| d.attribute("name")) else {
                // Not a form-data part; RFC 7578 requires a name.
                continue;
            };
            if let Some(nested) = part.sub_parts() {
                // RFC 2388's multipart/mixed of several files under one name.
                for &nested_id in nested {
                    if let Some(file) = message.parts.get(nested_id as usize) {
                        form.push_file(name, file, &raw);
                    }
                }
            } else if part
                .content_disposition()
                .and_then(|d| d.attribute("filename"))
                .is_some()
            {
                form.push_file(name, part, &raw);
            } else {
                form.fields.push(FormField {
                    name: name.to_owned(),
                    value: part_bytes(part, &raw).to_vec(),
                });
            }
        }
        form.read_charsets();
        Ok(form)
    }

    /// Parses `application/x-www-form-urlencoded`.
    pub fn urlencoded(body: &[u8]) -> Self {
        let fields = form_urlencoded::parse(body)
            .map(|(name, value)| FormField {
                name: name.into_owned(),
                value: value.into_owned().into_bytes(),
            })
            .collect();
        let mut form = FormData {
            fields,
            ..FormData::default()
        };
        form.read_charsets();
        form
    }

    fn push_file(&mut self, field: &str, part: &MessagePart<'_>, raw: &[u8]) {
        let filename = part.attachment_name().map(str::to_owned);
        let size = part_bytes(part, raw).len() as u64;
        if filename.as_deref().is_none_or(str::is_empty) && size == 0 {
            // An empty file input of a browser form: no file at all.
            return;
        }
        let content_type = part
            .content_type()
            .map(|ct| match ct.subtype() {
                Some(sub) => format!("{}/{}", ct.ctype(), sub),
                None => ct.ctype().to_owned(),
            })
            .unwrap_or_else(|| "application/octet-stream".to_owned())
            .to_ascii_lowercase();
        self.files.push(FormFile {
            field: field.to_owned(),
            filename,
            content_type,
            size,
        });
    }

    /// SendGrid's `charsets` field: a JSON object of field name to charset.
    fn read_charsets(&mut self) {
        let charsets = self
            .bytes("charsets")
            .and_then(|raw| serde_json::from_slice::<HashMap<String, String>>(raw).ok());
        self.charsets = charsets.unwrap_or_default();
    }

    /// The raw value of the first field of that name (ASCII case-insensitive).
    pub fn bytes(&self, name: &str) -> Option<&[u8]> {
        self.fields
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
            .map(|f| f.value.as_slice())
    }

    /// The value of the first field of that name as text, decoded with the
    /// charset the `charsets` field gives for it (UTF-8 otherwise, lossy).
    pub fn text(&self, name: &str) -> Option<String> {
        let raw = self.bytes(name)?;
        let charset = self
            .charsets
            .iter()
            .find(|(field, _)| field.eq_ignore_ascii_case(name))
            .map(|(_, charset)| charset.as_str());
        if let Some(charset) = charset.filter(|c| !c.eq_ignore_ascii_case("utf-8") && !c.eq_ignore_ascii_case("utf8"))
            && let Some(decode) = charset_decoder(charset.as_bytes())
        {
            return Some(decode(raw));
        }
        Some(String::from_utf8_lossy(raw).into_owned())
    }

    /// The value as text, `None` when absent or blank.
    pub fn non_empty(&self, name: &str) -> Option<String> {
        self.text(name).filter(|v| !v.trim().is_empty())
    }

    /// Whether a field of that name exists.
    pub fn has(&self, name: &str) -> bool {
        self.bytes(name).is_some()
    }

    /// The text fields, in order.
    pub fn fields(&self) -> &[FormField] {
        &self.fields
    }

    /// The uploaded files, in order.
    pub fn files(&self) -> &[FormFile] {
        &self.files
    }
}

/// The content of a part: the raw bytes between the boundaries, or the
/// decoded content when the part declares a transfer encoding.
fn part_bytes<'a>(part: &'a MessagePart<'_>, raw: &'a [u8]) -> &'a [u8] {
    if part.content_transfer_encoding().is_some() {
        return part.contents();
    }
    raw.get(part.raw_body_offset() as usize..part.raw_end_offset() as usize)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CT: &str = "multipart/form-data; boundary=xYzZY";

    fn body(parts: &[&str]) -> Vec<u8> {
        let mut out = String::new();
        for part in parts {
            out.push_str("--xYzZY\r\n");
            out.push_str(part);
            out.push_str("\r\n");
        }
        out.push_str("--xYzZY--\r\n");
        out.into_bytes()
    }

    #[test]
    fn multipart_fields_and_files() {
        let raw = body(&[
            "Content-Disposition: form-data; name=\"from\"\r\n\r\nAnn <ann@example.com>",
            "Content-Disposition: form-data; name=\"html\"\r\n\r\n",
            "Content-Disposition: form-data; name=\"text\"\r\n\r\nline one\r\n\r\n> quoted\r\n",
            "Content-Disposition: form-data; name=\"attachment1\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nhello file",
            "Content-Disposition: form-data; name=\"attachment2\"; filename=\"b.png\"\r\nContent-Type: image/PNG\r\n\r\n\u{1}\u{2}\u{3}",
        ]);
        let form = FormData::parse(CT, &raw).unwrap().unwrap();
        assert_eq!(form.text("from").as_deref(), Some("Ann <ann@example.com>"));
        assert_eq!(form.text("FROM").as_deref(), Some("Ann <ann@example.com>"));
        assert_eq!(form.text("html").as_deref(), Some(""));
        assert_eq!(form.non_empty("html"), None);
        assert_eq!(form.text("text").as_deref(), Some("line one\r\n\r\n> quoted\r\n"));
        assert_eq!(form.text("missing"), None);
        assert_eq!(
            form.files(),
            &[
                FormFile {
                    field: "attachment1".into(),
                    filename: Some("a.txt".into()),
                    content_type: "text/plain".into(),
                    size: 10
                },
                FormFile {
                    field: "attachment2".into(),
                    filename: Some("b.png".into()),
                    content_type: "image/png".into(),
                    size: 3
                },
            ]
        );
    }

    #[test]
    fn raw_bytes_survive_and_charsets_apply() {
        let mut raw = b"--b1\r\nContent-Disposition: form-data; name=\"subject\"\r\n\r\nZo\xeb\r\n".to_vec();
        raw.extend_from_slice(b"--b1\r\nContent-Disposition: form-data; name=\"text\"\r\n\r\nZo\xc3\xab\r\n");
        raw.extend_from_slice(
            b"--b1\r\nContent-Disposition: form-data; name=\"charsets\"\r\n\r\n{\"subject\":\"iso-8859-1\",\"text\":\"UTF-8\"}\r\n--b1--\r\n",
        );
        let form = FormData::parse("multipart/form-data; boundary=\"b1\"", &raw)
            .unwrap()
            .unwrap();
        assert_eq!(form.bytes("subject"), Some(&b"Zo\xeb"[..]));
        assert_eq!(form.text("subject").as_deref(), Some("Zoë"));
        assert_eq!(form.text("text").as_deref(), Some("Zoë"));
    }

    #[test]
    fn urlencoded_forms() {
        let form = FormData::parse(
            "application/x-www-form-urlencoded; charset=utf-8",
            b"sender=bob%40example.com&body-plain=Hi+there%0A&empty=",
        )
        .unwrap()
        .unwrap();
        assert_eq!(form.text("sender").as_deref(), Some("bob@example.com"));
        assert_eq!(form.text("body-plain").as_deref(), Some("Hi there\n"));
        assert!(form.has("empty") && form.non_empty("empty").is_none());
        assert!(form.files().is_empty());
    }

    #[test]
    fn malformed_forms_are_bad_requests() {
        assert!(FormData::parse("application/json", b"{}").is_none());
        let no_boundary = FormData::parse("multipart/form-data", b"--x\r\n\r\nhi\r\n--x--").unwrap();
        assert_eq!(no_boundary.unwrap_err().status(), 400);
        let no_parts = FormData::parse(CT, b"just some text").unwrap();
        assert_eq!(no_parts.unwrap_err().status(), 400);
        let empty = FormData::parse("application/x-www-form-urlencoded", b"").unwrap();
        assert_eq!(empty.unwrap_err().status(), 400);
        let injected = FormData::parse("multipart/form-data; boundary=a\r\nX: y", b"").unwrap();
        assert_eq!(injected.unwrap_err().status(), 400);
    }

    #[test]
    fn empty_file_inputs_are_not_files() {
        let raw = body(&[
            "Content-Disposition: form-data; name=\"to\"\r\n\r\nsupport@example.com",
            "Content-Disposition: form-data; name=\"attachment1\"; filename=\"\"\r\nContent-Type: application/octet-stream\r\n\r\n",
        ]);
        let form = FormData::parse(CT, &raw).unwrap().unwrap();
        assert!(form.files().is_empty());
    }
}
