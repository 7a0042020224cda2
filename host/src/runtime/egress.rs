//! Outbound HTTP for plugins (`http-send`), limited to the hosts the
//! operator allowed for the connector instance.
//!
//! Allowlist entries are either a host name (`api.twilio.com`, or
//! `*.example.com` for subdomains), reachable over HTTPS on port 443 at
//! public addresses only; or an explicit origin (`http://127.0.0.1:9100`,
//! `https://10.0.0.5:8443`), which also permits that private or loopback
//! address. Every connector instance gets its own client whose DNS resolver
//! enforces the same rule, so a name that resolves (or re-resolves) to a
//! private address is refused, and the connection goes to the address that
//! was checked. Redirects are not followed.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::Url;

/// Longest any one request may take, whatever the call's deadline.
const MAX_REQUEST_TIME: Duration = Duration::from_secs(30);
/// Largest request body a plugin may send.
const MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;

/// Why a request was refused or failed, mirroring the WIT `http-error`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EgressError {
    /// Not allowed for this instance.
    Denied(String),
    /// No answer in time.
    Timeout(String),
    /// DNS, connection or TLS failure.
    Unreachable(String),
    /// Answer over the size cap.
    TooLarge(String),
    /// Malformed request.
    Invalid(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Rule {
    /// A host name (or `*.suffix`), HTTPS on 443, public addresses only.
    Host(String),
    /// An exact origin, private addresses allowed.
    Origin { scheme: String, host: String, port: u16 },
}

/// The hosts one connector instance may reach.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList {
    rules: Vec<Rule>,
}

impl AllowList {
    /// Parses entries; the error names the bad entry.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, String> {
        let mut rules = Vec::new();
        for entry in entries {
            let entry = entry.as_ref().trim();
            if entry.contains("://") {
                let url = Url::parse(entry)
                    .map_err(|e| format!("{entry:?} is not an origin like http://127.0.0.1:9100: {e}"))?;
                let scheme = url.scheme().to_owned();
                if scheme != "http" && scheme != "https" {
                    return Err(format!("{entry:?}: only http and https origins can be allowed"));
                }
                let host = url
                    .host_str()
                    .ok_or_else(|| format!("{entry:?} has no host"))?
                    .to_ascii_lowercase();
                let port = url
                    .port_or_known_default()
                    .ok_or_else(|| format!("{entry:?} has no port"))?;
                if url.path() != "/" || url.query().is_some() {
                    return Err(format!("{entry:?}: give an origin (scheme, host, port) without a path"));
                }
                rules.push(Rule::Origin { scheme, host, port });
            } else {
                let host = entry.to_ascii_lowercase();
                let bare = host.strip_prefix("*.").unwrap_or(&host);
                let valid = !bare.is_empty()
                    && bare.contains('.')
                    && bare.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
                    && bare.parse::<IpAddr>().is_err();
                if !valid {
                    return Err(format!(
                        "{entry:?} is not a host name like api.provider.com or *.provider.com \
                         (allow an IP address as an origin: https://10.0.0.5:8443)"
                    ));
                }
                rules.push(Rule::Host(host));
            }
        }
        Ok(Self { rules })
    }

    /// Whether nothing is allowed.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Whether a URL is allowed, without resolving it.
    pub fn permits(&self, url: &str) -> bool {
        Url::parse(url).is_ok_and(|url| self.check(&url).is_ok())
    }

    fn host_matches(pattern: &str, host: &str) -> bool {
        match pattern.strip_prefix("*.") {
            Some(suffix) => host.len() > suffix.len() + 1 && host.ends_with(&format!(".{suffix}")),
            None => pattern == host,
        }
    }

    /// Checks a URL; on success, whether private addresses are allowed for it.
    fn check(&self, url: &Url) -> Result<bool, String> {
        let host = url.host_str().unwrap_or("").trim_end_matches('.').to_ascii_lowercase();
        let port = url.port_or_known_default().unwrap_or(0);
        for rule in &self.rules {
            match rule {
                Rule::Origin {
                    scheme,
                    host: h,
                    port: p,
                } if scheme == url.scheme() && *h == host && *p == port => {
                    return Ok(true);
                }
                Rule::Host(pattern) if url.scheme() == "https" && port == 443 && Self::host_matches(pattern, &host) => {
                    return Ok(false);
                }
                _ => {}
            }
        }
        Err(format!(
            "{}://{host}:{port} is not allowed for this connector instance; allow it in omni.toml \
             with allowed_hosts (host names are reachable over https on 443 only)",
            url.scheme()
        ))
    }

    /// Whether a resolved name may use private addresses.
    fn private_ok(&self, host: &str) -> bool {
        self.rules
            .iter()
            .any(|r| matches!(r, Rule::Origin { host: h, .. } if h == host))
    }
}

/// Whether an address is loopback, private, link-local or otherwise not a
/// public internet address.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                // 100.64.0.0/10, carrier-grade NAT
                || (v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_private(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80 // link local
        }
    }
}

/// Resolves names for one instance's client, dropping private addresses
/// unless the allowlist names that host as an explicit origin.
struct PolicyResolver {
    allow: Arc<AllowList>,
}

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow = self.allow.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let private_ok = allow.private_ok(&host);
            let allowed: Vec<SocketAddr> = addresses
                .into_iter()
                .filter(|a| private_ok || !is_private(a.ip()))
                .collect();
            if allowed.is_empty() {
                return Err(
                    format!("{host} resolves only to private or loopback addresses, which are not allowed").into(),
                );
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// One connector instance's outbound HTTP.
#[derive(Debug)]
pub struct Egress {
    client: reqwest::Client,
    allow: Arc<AllowList>,
    max_response_bytes: usize,
}

/// A request as the plugin gave it.
pub struct OutgoingRequest {
    /// Method.
    pub method: String,
    /// URL.
    pub url: String,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

/// The provider's answer.
#[derive(Debug)]
pub struct IncomingResponse {
    /// Status.
    pub status: u16,
    /// Headers, lower-case names.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl Egress {
    /// A client for an allowlist.
    pub fn new(allow: AllowList, max_response_bytes: usize) -> Result<Self, String> {
        let allow = Arc::new(allow);
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(PolicyResolver { allow: allow.clone() }))
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("omni/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Self {
            client,
            allow,
            max_response_bytes,
        })
    }

    /// Sends a request if the allowlist permits it, before `deadline`.
    pub async fn send(&self, request: OutgoingRequest, deadline: Instant) -> Result<IncomingResponse, EgressError> {
        let url = Url::parse(&request.url)
            // Never echo the URL: providers such as Telegram put credentials in its path.
            .map_err(|e| EgressError::Invalid(format!("the request URL is not valid: {e}")))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(EgressError::Invalid(
                "credentials in the URL are not allowed; use a header".into(),
            ));
        }
        let private_ok = self.allow.check(&url).map_err(EgressError::Denied)?;
        if let Some(ip) = literal_ip(&url)
            && is_private(ip)
            && !private_ok
        {
            return Err(EgressError::Denied(format!("{ip} is a private address")));
        }
        if request.body.len() > MAX_REQUEST_BYTES {
            return Err(EgressError::Invalid(format!(
                "request body over {MAX_REQUEST_BYTES} bytes"
            )));
        }
        let method = reqwest::Method::from_bytes(request.method.as_bytes())
            .map_err(|_| EgressError::Invalid(format!("{:?} is not an HTTP method", request.method)))?;
        let mut builder = self.client.request(method, url.clone()).body(request.body);
        for (name, value) in &request.headers {
            let name = reqwest::header::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| EgressError::Invalid(format!("{name:?} is not a header name")))?;
            let value = reqwest::header::HeaderValue::from_str(value)
                .map_err(|_| EgressError::Invalid(format!("the value of header {name} is not valid")))?;
            builder = builder.header(name, value);
        }
        let remaining = deadline.saturating_duration_since(Instant::now()).min(MAX_REQUEST_TIME);
        if remaining.is_zero() {
            return Err(EgressError::Timeout("the call's deadline has passed".into()));
        }
        let host = url.host_str().unwrap_or("").to_owned();
        let exchange = async {
            let mut response = builder.send().await.map_err(|e| classify(&host, e))?;
            let status = response.status().as_u16();
            let headers = response
                .headers()
                .iter()
                .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str().to_owned(), v.to_owned())))
                .collect();
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(|e| classify(&host, e))? {
                if body.len() + chunk.len() > self.max_response_bytes {
                    return Err(EgressError::TooLarge(format!(
                        "{host} answered more than {} bytes",
                        self.max_response_bytes
                    )));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(IncomingResponse { status, headers, body })
        };
        match tokio::time::timeout(remaining, exchange).await {
            Ok(result) => result,
            Err(_) => Err(EgressError::Timeout(format!(
                "{host} did not answer within {remaining:?}"
            ))),
        }
    }
}

fn literal_ip(url: &Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
        url::Host::Domain(_) => None,
    }
}

fn classify(host: &str, error: reqwest::Error) -> EgressError {
    // reqwest's messages quote the URL, whose path may hold a credential.
    let error = error.without_url();
    let chain = {
        let mut text = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(s) = source {
            text.push_str(": ");
            text.push_str(&s.to_string());
            source = s.source();
        }
        text
    };
    if error.is_timeout() {
        EgressError::Timeout(format!("{host}: {chain}"))
    } else if chain.contains("private or loopback") {
        EgressError::Denied(chain)
    } else {
        EgressError::Unreachable(format!("{host}: {chain}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    #[test]
    fn host_entries_allow_https_on_443_only() {
        let allow = AllowList::parse(&["api.twilio.com", "*.example.com"]).unwrap();
        assert_eq!(allow.check(&url("https://api.twilio.com/2010-04-01/x")), Ok(false));
        assert_eq!(allow.check(&url("https://eu.example.com/")), Ok(false));
        assert!(
            allow.check(&url("https://example.com/")).is_err(),
            "the wildcard needs a subdomain"
        );
        assert!(
            allow.check(&url("http://api.twilio.com/")).is_err(),
            "plain http needs an explicit origin"
        );
        assert!(allow.check(&url("https://api.twilio.com:8443/")).is_err());
        assert!(allow.check(&url("https://evil.com/?api.twilio.com")).is_err());
        assert!(allow.check(&url("https://api.twilio.com.evil.com/")).is_err());
    }

    #[test]
    fn explicit_origins_allow_private_addresses() {
        let allow = AllowList::parse(&["http://127.0.0.1:9100"]).unwrap();
        assert_eq!(allow.check(&url("http://127.0.0.1:9100/send")), Ok(true));
        assert!(allow.check(&url("http://127.0.0.1:9101/send")).is_err());
        assert!(allow.check(&url("https://127.0.0.1:9100/send")).is_err());
        assert!(allow.private_ok("127.0.0.1"));
    }

    #[test]
    fn bad_entries_are_named() {
        for bad in [
            "localhost",
            "10.0.0.1",
            "ftp://x.example",
            "http://x.example/path",
            "a b.com",
            "",
        ] {
            assert!(AllowList::parse(&[bad]).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn private_ranges() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(is_private(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"] {
            assert!(!is_private(ip.parse().unwrap()), "{ip}");
        }
    }

    #[tokio::test]
    async fn refused_requests_never_leave_the_host() {
        let egress = Egress::new(AllowList::parse(&["api.twilio.com"]).unwrap(), 1024).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        let request = |url: &str| OutgoingRequest {
            method: "GET".into(),
            url: url.into(),
            headers: vec![],
            body: vec![],
        };
        let denied = egress.send(request("http://127.0.0.1:1/"), deadline).await;
        assert!(matches!(denied, Err(EgressError::Denied(_))));
        let denied = egress
            .send(request("https://169.254.169.254/latest/meta-data"), deadline)
            .await;
        assert!(matches!(denied, Err(EgressError::Denied(_))));
        let invalid = egress.send(request("not a url"), deadline).await;
        assert!(matches!(invalid, Err(EgressError::Invalid(_))));
        let creds = egress.send(request("https://user:pw@api.twilio.com/"), deadline).await;
        assert!(matches!(creds, Err(EgressError::Invalid(_))));
    }

    #[tokio::test]
    async fn errors_never_quote_the_path_where_credentials_live() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let origin = format!("http://127.0.0.1:{port}");
        let egress = Egress::new(AllowList::parse(&[origin.as_str()]).unwrap(), 1024).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        for url in [
            format!("{origin}/bot123:SECRET/sendMessage"),
            "http://[::1/botSECRET".to_owned(),
        ] {
            let request = OutgoingRequest {
                method: "POST".into(),
                url,
                headers: vec![],
                body: vec![],
            };
            let error = egress.send(request, deadline).await.unwrap_err();
            assert!(!format!("{error:?}").contains("SECRET"), "{error:?}");
        }
    }

    #[tokio::test]
    async fn a_name_resolving_to_a_private_address_is_refused() {
        // "localhost" resolves to loopback; allowed by name, it must still be refused.
        let allow = AllowList {
            rules: vec![Rule::Host("localhost".into())],
        };
        let resolver = PolicyResolver { allow: Arc::new(allow) };
        let result = resolver.resolve("localhost".parse().unwrap()).await;
        assert!(result.is_err());
    }
}
