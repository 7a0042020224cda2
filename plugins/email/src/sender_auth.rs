//! Whether the provider proved the From address.
//!
//! Anyone can write any From address, so a sender is unverified unless the
//! operator opts in (`trust_authentication_results`) and the provider's own
//! receiving server vouches for it: its `Authentication-Results` header
//! (RFC 8601; only the top-most one carrying the configured `authserv_id`,
//! since senders can add fake ones below and receivers remove look-alikes of
//! their own id) shows `dmarc=pass`, or `dkim=pass` for a domain aligned with
//! the From domain (DMARC's relaxed alignment). SendGrid gives the same
//! proof in its `dkim` form field (`{@example.com : pass}`).

/// One result of an Authentication-Results header, e.g. `dkim=pass header.d=example.com`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthResult {
    /// The method, lower case, without version (`dkim`, `spf`, `dmarc`).
    pub method: String,
    /// The result, lower case (`pass`, `fail`, …).
    pub result: String,
    /// `ptype.property` and value pairs, names lower case.
    pub properties: Vec<(String, String)>,
}

impl AuthResult {
    /// The value of a property, e.g. `header.d`.
    pub fn property(&self, name: &str) -> Option<&str> {
        self.properties
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The authserv-id and results of one Authentication-Results value.
pub fn parse(header: &str) -> Option<(String, Vec<AuthResult>)> {
    let cleaned = strip_comments(header);
    let mut sections = split_outside_quotes(&cleaned, ';').into_iter();
    let authserv_id = sections.next()?.split_whitespace().next()?.to_ascii_lowercase();
    let mut results = Vec::new();
    for section in sections {
        let mut tokens = section.split_whitespace();
        let Some((method, result)) = tokens.next().and_then(|t| t.split_once('=')) else {
            continue;
        };
        let method = method.split('/').next().unwrap_or(method).to_ascii_lowercase();
        let properties = tokens
            .filter_map(|t| t.split_once('='))
            .map(|(name, value)| (name.to_ascii_lowercase(), value.trim_matches('"').to_owned()))
            .collect();
        results.push(AuthResult {
            method,
            result: result.to_ascii_lowercase(),
            properties,
        });
    }
    Some((authserv_id, results))
}

/// Whether the top-most Authentication-Results header of `authserv_id`
/// proves `from_domain`.
pub fn proves(headers: &[String], authserv_id: &str, from_domain: &str) -> bool {
    let Some((_, results)) = headers
        .iter()
        .filter_map(|h| parse(h))
        .find(|(id, _)| id.eq_ignore_ascii_case(authserv_id.trim()))
    else {
        return false;
    };
    results.iter().any(|r| match (r.method.as_str(), r.result.as_str()) {
        ("dmarc", "pass") => r
            .property("header.from")
            .is_none_or(|d| d.eq_ignore_ascii_case(from_domain)),
        ("dkim", "pass") => r
            .property("header.d")
            .map(str::to_owned)
            .or_else(|| {
                r.property("header.i")
                    .and_then(|i| i.rsplit_once('@'))
                    .map(|(_, d)| d.to_owned())
            })
            .is_some_and(|d| aligned(&d, from_domain)),
        _ => false,
    })
}

/// Whether SendGrid's `dkim` field (`{@example.com : pass, @other : fail}`)
/// shows a pass for a domain aligned with `from_domain`.
pub fn sendgrid_dkim_proves(field: &str, from_domain: &str) -> bool {
    field
        .trim()
        .trim_start_matches('{')
        .trim_end_matches('}')
        .split(',')
        .filter_map(|entry| entry.split_once(':'))
        .any(|(domain, result)| {
            result.trim().eq_ignore_ascii_case("pass") && aligned(domain.trim().trim_start_matches('@'), from_domain)
        })
}

/// The domain of an address, lower case.
pub fn domain_of(address: &str) -> Option<String> {
    address
        .rsplit_once('@')
        .map(|(_, d)| d.trim().trim_end_matches('>').to_ascii_lowercase())
        .filter(|d| !d.is_empty())
}

/// A conservative form of DMARC's relaxed alignment: the signing domain is the
/// From domain or a parent of it. (A signing domain below the From domain is
/// left to `dmarc=pass`, which the receiver computes with the public suffix
/// list; we have none, and `evil.co.uk` must not vouch for `co.uk`.)
pub fn aligned(signing_domain: &str, from_domain: &str) -> bool {
    let d = signing_domain.trim().trim_end_matches('.').to_ascii_lowercase();
    let f = from_domain.trim().trim_end_matches('.').to_ascii_lowercase();
    if d.is_empty() || f.is_empty() || !d.contains('.') {
        return false;
    }
    d == f || f.ends_with(&format!(".{d}"))
}

/// Removes RFC 5322 comments `( … )`, nested, honouring backslash escapes.
fn strip_comments(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut depth = 0usize;
    let mut escaped = false;
    let mut quoted = false;
    for c in value.chars() {
        if escaped {
            escaped = false;
            if depth == 0 {
                out.push(c);
            }
            continue;
        }
        match c {
            '\\' => {
                escaped = true;
                if depth == 0 {
                    out.push(c);
                }
            }
            '"' if depth == 0 => {
                quoted = !quoted;
                out.push(c);
            }
            '(' if !quoted => depth += 1,
            ')' if !quoted && depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

fn split_outside_quotes(value: &str, separator: char) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in value.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                current.push(c);
            }
            c if c == separator && !quoted => parts.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    parts.push(current);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    const GMAIL_STYLE: &str = "mx.google.com; dkim=pass header.i=@example.com header.s=20230601 header.b=AbC123; \
        spf=pass (google.com: domain of ann@example.com designates 192.0.2.1 as permitted sender) smtp.mailfrom=ann@example.com; \
        dmarc=pass (p=NONE sp=NONE dis=NONE) header.from=example.com";

    #[test]
    fn parses_results_and_drops_comments() {
        let (id, results) = parse(GMAIL_STYLE).unwrap();
        assert_eq!(id, "mx.google.com");
        assert_eq!(results.len(), 3);
        assert_eq!(results[0].method, "dkim");
        assert_eq!(results[0].property("header.i"), Some("@example.com"));
        assert_eq!(results[1].method, "spf");
        assert_eq!(results[1].property("smtp.mailfrom"), Some("ann@example.com"));
        assert_eq!(results[2].result, "pass");
        assert_eq!(results[2].property("header.from"), Some("example.com"));
        let (id, results) = parse("mx.example.net 1; none").unwrap();
        assert_eq!(id, "mx.example.net");
        assert!(results.is_empty());
    }

    #[test]
    fn dmarc_or_aligned_dkim_proves_the_sender() {
        let headers = vec![GMAIL_STYLE.to_owned()];
        assert!(proves(&headers, "mx.google.com", "example.com"));
        // Another authserv-id is not trusted.
        assert!(!proves(&headers, "mx.acme.example", "example.com"));
        // DMARC for another domain proves nothing about this one.
        assert!(!proves(&headers, "mx.google.com", "other.example"));
        let dkim_only = vec!["mx.acme.example; dkim=pass header.d=example.com; dmarc=none".to_owned()];
        assert!(proves(&dkim_only, "mx.acme.example", "mail.example.com"));
        assert!(!proves(&dkim_only, "mx.acme.example", "example.org"));
        let unaligned = vec!["mx.acme.example; dkim=pass header.d=mailer.example.net; spf=pass".to_owned()];
        assert!(!proves(&unaligned, "mx.acme.example", "example.com"));
        let failed =
            vec!["mx.acme.example; dkim=fail header.d=example.com; dmarc=fail header.from=example.com".to_owned()];
        assert!(!proves(&failed, "mx.acme.example", "example.com"));
    }

    #[test]
    fn only_the_top_most_header_of_the_server_counts() {
        // The sender added a fake pass below the provider's real fail.
        let headers = vec![
            "mx.acme.example; dmarc=fail header.from=example.com".to_owned(),
            "mx.acme.example; dmarc=pass header.from=example.com".to_owned(),
        ];
        assert!(!proves(&headers, "mx.acme.example", "example.com"));
    }

    #[test]
    fn sendgrid_dkim_field() {
        assert!(sendgrid_dkim_proves("{@example.com : pass}", "example.com"));
        assert!(sendgrid_dkim_proves(
            "{@sendgrid.net : pass, @example.com : pass}",
            "example.com"
        ));
        assert!(!sendgrid_dkim_proves("{@example.com : fail}", "example.com"));
        assert!(!sendgrid_dkim_proves("{@sendgrid.net : pass}", "example.com"));
        assert!(!sendgrid_dkim_proves("none", "example.com"));
    }

    #[test]
    fn alignment() {
        assert!(aligned("example.com", "example.com"));
        assert!(aligned("example.com", "mail.example.com"));
        assert!(!aligned("mail.example.com", "example.com"));
        assert!(!aligned("badexample.com", "example.com"));
        assert!(!aligned("com", "example.com"));
        assert_eq!(domain_of("Ann@Example.COM").as_deref(), Some("example.com"));
        assert_eq!(domain_of("nobody"), None);
    }
}
