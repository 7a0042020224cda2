//! Twilio's webhook conventions, for Twilio and Twilio-compatible providers.
//!
//! Twilio signs every webhook with base64(HMAC-SHA1(auth token, URL + sorted
//! parameters)) in `X-Twilio-Signature` ([`crate::crypto::twilio_signature`]).
//! The URL is the one the operator gave Twilio, which the plugin cannot see
//! behind proxies, so [`verify`] rebuilds it from the instance's config
//! `public_url` plus the request's path and query, checks the signature and,
//! when config `account_sid` is set, the account, and hands back the form
//! parameters as a [`SignedForm`].

use crate::crypto::verify_twilio_signature;
use crate::{Host, PluginError, Request};

/// Name of the secret holding the Twilio auth token.
pub const AUTH_TOKEN: &str = "auth_token";

/// The form parameters of a webhook whose signature checked out.
#[derive(Debug)]
pub struct SignedForm {
    params: Vec<(String, String)>,
}

impl SignedForm {
    /// The first value of a parameter; `None` when absent or empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .filter(|value| !value.is_empty())
    }

    /// A parameter the request must carry, or `bad-request`.
    pub fn required(&self, name: &str) -> Result<&str, PluginError> {
        self.get(name)
            .ok_or_else(|| PluginError::bad_request(format!("the `{name}` parameter is missing")))
    }

    /// A Twilio SID (`SM…`, `CA…`): the first present of `names`, letters, digits and '-' only.
    pub fn sid(&self, names: &[&str]) -> Result<&str, PluginError> {
        let value = names
            .iter()
            .find_map(|name| self.get(name))
            .ok_or_else(|| PluginError::bad_request(format!("the `{}` parameter is missing", names[0])))?;
        // Twilio's SIDs are letters and digits; compatible providers use UUIDs.
        if value.len() > 64 || !value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(PluginError::bad_request(format!(
                "`{}` must be 1 to 64 letters, digits or '-'",
                names[0]
            )));
        }
        Ok(value)
    }
}

/// Checks the signature (401 when missing or wrong) and the account (403)
/// of a Twilio webhook, and returns its parameters.
pub fn verify(host: &Host, request: &Request) -> Result<SignedForm, PluginError> {
    let token = host.secret(AUTH_TOKEN).filter(|t| !t.is_empty()).ok_or_else(|| {
        PluginError::internal(format!(
            "the secret `{AUTH_TOKEN}` (the Twilio auth token) is not configured for this instance"
        ))
    })?;
    let public_url = public_url(host)?;
    let Some(signature) = request.header("x-twilio-signature").filter(|s| !s.trim().is_empty()) else {
        host.warn(&format!("refused {} without X-Twilio-Signature", request.path));
        return Err(PluginError::unauthorized("the X-Twilio-Signature header is missing"));
    };
    let params = request.form()?;
    let url = signed_url(&public_url, request);
    let valid = port_variants(&url)
        .iter()
        .any(|candidate| verify_twilio_signature(&token, candidate, &params, signature));
    if !valid {
        host.warn(&format!(
            "refused {} with a wrong X-Twilio-Signature (signed URL expected: {url})",
            request.path
        ));
        return Err(PluginError::unauthorized("the X-Twilio-Signature does not match"));
    }
    let form = SignedForm { params };
    let account: Option<String> = host.config("account_sid")?;
    if let (Some(expected), Some(given)) = (account.as_deref(), form.get("AccountSid"))
        && expected != given
    {
        host.warn(&format!("refused {} for another Twilio account {given}", request.path));
        return Err(PluginError::Forbidden(format!(
            "the request is for account {given}, not this instance's account"
        )));
    }
    Ok(form)
}

/// Config `public_url` without a trailing slash, or an operator-facing `internal` error.
pub fn public_url(host: &Host) -> Result<String, PluginError> {
    let url: Option<String> = host.config("public_url")?;
    url.map(|u| u.trim_end_matches('/').to_owned())
        .filter(|u| !u.is_empty())
        .ok_or_else(|| {
            PluginError::internal(
                "config `public_url` is not set: give the URL Twilio calls for this instance, \
                 e.g. https://omni.example.com/hooks/<instance>",
            )
        })
}

/// The URL Twilio signed: `public_url` + path + `?query`.
fn signed_url(public_url: &str, request: &Request) -> String {
    let mut url = format!("{public_url}{}", request.path);
    if !request.query.is_empty() {
        url.push('?');
        url.push_str(&request.query);
    }
    url
}

/// The URL without a port and with one (its own or the scheme's default):
/// Twilio's own validators accept either, since Twilio's signing of ports
/// has varied.
fn port_variants(url: &str) -> Vec<String> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return vec![url.to_owned()];
    };
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "https" => "443",
        "http" => "80",
        _ => return vec![url.to_owned()],
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (userinfo, host_port) = match authority.rsplit_once('@') {
        Some((userinfo, host_port)) => (format!("{userinfo}@"), host_port),
        None => (String::new(), authority),
    };
    // A colon inside an IPv6 literal (`[::1]`) is not a port separator.
    let (host, port) = match host_port.rfind(':') {
        Some(i) if !host_port[i..].contains(']') => (&host_port[..i], &host_port[i + 1..]),
        _ => (host_port, default_port),
    };
    vec![
        format!("{scheme}://{userinfo}{host}{tail}"),
        format!("{scheme}://{userinfo}{host}:{port}{tail}"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::twilio_signature;
    use crate::testing;
    use serde_json::json;

    // The request of Twilio's own request-validator tests (twilio-python,
    // tests/unit/test_request_validator.py): token 12345, these parameters,
    // https://mycompany.com/myapp.php?foo=1&bar=2.
    const BODY: &str =
        "CallSid=CA1234567890ABCDE&Caller=%2B14158675309&Digits=1234&From=%2B14158675309&To=%2B18005551212";

    fn request(signature: &str) -> Request {
        Request::post("/myapp.php?foo=1&bar=2", BODY)
            .with_header("content-type", "application/x-www-form-urlencoded")
            .with_header("x-twilio-signature", signature)
    }

    fn host(public_url: &str) -> testing::MockHost {
        testing::MockHost::new()
            .with_secret(AUTH_TOKEN, "12345")
            .with_config("public_url", json!(public_url))
    }

    fn verifies(public_url: &str, signature: &str) -> bool {
        let mock = host(public_url);
        verify(&mock.host(), &request(signature)).is_ok()
    }

    #[test]
    fn twilios_documented_vectors_verify_with_and_without_ports() {
        // Expected values from Twilio's validator tests.
        assert!(verifies("https://mycompany.com", "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
        assert!(verifies("https://mycompany.com/", "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
        // Signed with :443 added; and a configured port that Twilio left out.
        assert!(verifies("https://mycompany.com", "kvajT1Ptam85bY51eRf/AJRuM3w="));
        assert!(verifies("https://mycompany.com:1234", "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
        assert!(verifies("http://mycompany.com:1234", "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="));
        assert!(verifies("http://mycompany.com", "0ZXoZLH/DfblKGATFgpif+LLRf4="));
        assert!(!verifies("https://mycompany.com", "0ZXoZLH/DfblKGATFgpif+LLRf4="));
        assert!(!verifies("https://other.example", "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
    }

    #[test]
    fn the_query_is_part_of_the_signed_url() {
        let mock = host("https://mycompany.com");
        let mut moved = request("RSOYDt4T1cUTdK1PDd93/VVr8B8=");
        moved.query = "foo=1&bar=3".to_owned();
        assert_eq!(verify(&mock.host(), &moved).unwrap_err().status(), 401);
    }

    #[test]
    fn missing_token_or_url_is_an_operator_error() {
        let no_token = testing::MockHost::new().with_config("public_url", json!("https://mycompany.com"));
        let err = verify(&no_token.host(), &request("x")).unwrap_err();
        assert_eq!(err.status(), 500);
        assert!(err.message().contains("auth_token"), "{err}");
        let no_url = testing::MockHost::new().with_secret(AUTH_TOKEN, "12345");
        let err = verify(&no_url.host(), &request("x")).unwrap_err();
        assert_eq!(err.status(), 500);
        assert!(err.message().contains("public_url"), "{err}");
    }

    #[test]
    fn another_account_is_forbidden() {
        let params = vec![("AccountSid".to_owned(), "ACbbbb".to_owned())];
        let signature = twilio_signature("12345", "https://mycompany.com/sms", &params);
        let mock = host("https://mycompany.com").with_config("account_sid", json!("ACaaaa"));
        let request = Request::post("/sms", "AccountSid=ACbbbb")
            .with_header("content-type", "application/x-www-form-urlencoded")
            .with_header("x-twilio-signature", &signature);
        assert_eq!(verify(&mock.host(), &request).unwrap_err().status(), 403);
    }

    #[test]
    fn port_variants_follow_twilios_validator() {
        assert_eq!(
            port_variants("https://a.example/x?y=1"),
            vec!["https://a.example/x?y=1", "https://a.example:443/x?y=1"]
        );
        assert_eq!(
            port_variants("http://u:p@[::1]:8080"),
            vec!["http://u:p@[::1]", "http://u:p@[::1]:8080"]
        );
        assert_eq!(port_variants("ftp://a.example"), vec!["ftp://a.example"]);
    }
}
