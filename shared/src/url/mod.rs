//! The one URL and address rule of the contract (section "Input rules", `url`): judged when a URL
//! is accepted (create, update) and again by the delivery client at connect time, on every
//! address the host resolves to, so that DNS rebinding reaches nothing.
//!
//! Errors are reasons in words (`UrlRejected`), not API answers: validation turns them into
//! 400 `invalid_url`, the delivery client into a failed attempt's `error`.

mod address;

use std::fmt;
use std::net::IpAddr;

use sha2::{Digest, Sha256};
use url::{Host, Url};

pub use address::{
    blocked_ip_reason, blocked_ipv4_reason, blocked_ipv6_reason, blocked_name_reason, AddressPolicy, Cidr,
};

/// How long the write-time check waits for the system resolver.
pub const RESOLVE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// The most characters a webhook URL may have (contract, `url`).
pub const MAX_URL_CHARS: usize = 2083;

/// Why a URL or one of its addresses is refused: a clause that completes "`url` is not allowed: …".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlRejected(pub String);

impl fmt::Display for UrlRejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn rejected(reason: impl fmt::Display) -> UrlRejected {
    UrlRejected(reason.to_string())
}

/// A URL that passed every rule that needs no network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl {
    /// Exactly as sent; this is what the API returns.
    pub url: String,
    /// The comparison form: scheme and host lower-case, no trailing dot, no `:443`.
    pub normalized: String,
    /// The host to resolve, or `None` for an IP literal (already checked).
    pub domain: Option<String>,
    pub port: u16,
}

impl WebhookUrl {
    /// A fixed-length key for the uniqueness marker (URLs may be longer than a sort key allows):
    /// lower-case hex SHA-256 of the normalized form.
    pub fn uniqueness_key(&self) -> String {
        hex::encode(Sha256::digest(self.normalized.as_bytes()))
    }
}

/// The syntactic URL rules and the IP-literal and name rules.
pub fn parse(raw: &str, policy: &AddressPolicy) -> Result<WebhookUrl, UrlRejected> {
    if raw.chars().count() > MAX_URL_CHARS {
        return Err(rejected(format_args!("it is longer than {MAX_URL_CHARS} characters")));
    }
    // The URL parser silently strips tabs, newlines and edge spaces; refuse them instead so that
    // what is stored is what will be called.
    if raw.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(rejected("it contains whitespace or control characters"));
    }
    let scheme_ok = raw.get(..8).is_some_and(|s| s.eq_ignore_ascii_case("https://"));
    if !scheme_ok {
        return Err(rejected("it must be an absolute URL starting with https://"));
    }
    if raw.contains('#') {
        return Err(rejected("it must not have a fragment (#...)"));
    }
    // The parser skips any run of '/' and '\' after `https:`; the authority then ends at the first
    // '/', '?' or '\'. An '@' there is user-info, even an empty one, which parsing would drop.
    let after_slashes = raw[6..].trim_start_matches(['/', '\\']);
    let authority = after_slashes.split(['/', '?', '\\']).next().unwrap_or("");
    if authority.contains('@') {
        return Err(rejected("it must not contain a user name or password"));
    }
    let url = Url::parse(raw).map_err(|e| rejected(format_args!("it cannot be parsed ({e})")))?;
    // And the URL as parsed, whatever spelling led to it.
    if !url.username().is_empty() || url.password().is_some() {
        return Err(rejected("it must not contain a user name or password"));
    }
    if url.fragment().is_some() {
        return Err(rejected("it must not have a fragment (#...)"));
    }
    let port = url.port_or_known_default().unwrap_or(443);
    let (host_text, domain) = match url.host() {
        None => return Err(rejected("it has no host")),
        Some(Host::Ipv4(ip)) => {
            refuse_address(policy, IpAddr::V4(ip))?;
            (ip.to_string(), None)
        }
        Some(Host::Ipv6(ip)) => {
            refuse_address(policy, IpAddr::V6(ip))?;
            (format!("[{ip}]"), None)
        }
        Some(Host::Domain(name)) => {
            let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
            if name.is_empty() {
                return Err(rejected("it has no host"));
            }
            // `localhost...` or `a..example.com`: only one trailing dot is allowed.
            if name.split('.').any(str::is_empty) {
                return Err(rejected("the host name has an empty label (two dots in a row, or a leading dot)"));
            }
            if let Some(reason) = blocked_name_reason(&name) {
                return Err(rejected(reason));
            }
            (name.clone(), Some(name))
        }
    };
    let mut normalized = format!("https://{host_text}");
    if let Some(p) = url.port() {
        normalized.push_str(&format!(":{p}"));
    }
    normalized.push_str(url.path());
    if let Some(q) = url.query() {
        normalized.push('?');
        normalized.push_str(q);
    }
    Ok(WebhookUrl { url: raw.to_owned(), normalized, domain, port })
}

fn refuse_address(policy: &AddressPolicy, ip: IpAddr) -> Result<(), UrlRejected> {
    match policy.refuse(ip) {
        Some(reason) => Err(rejected(format_args!("the host is {reason}"))),
        None => Ok(()),
    }
}

/// The resolve-time rule: a name that resolves now to any refused address is refused. A name that
/// does not resolve is accepted; every delivery checks again.
pub async fn check_resolved_addresses(url: &WebhookUrl, policy: &AddressPolicy) -> Result<(), UrlRejected> {
    let Some(domain) = &url.domain else {
        return Ok(());
    };
    judge_resolution(tokio::net::lookup_host((domain.as_str(), url.port)), policy).await
}

/// Judges what `lookup` resolves to. A lookup that outlasts `RESOLVE_TIMEOUT` counts as "does not
/// resolve", so a slow resolver can never hold a request past the function's timeout; the
/// delivery-time check still guards the name.
async fn judge_resolution<I>(
    lookup: impl std::future::Future<Output = std::io::Result<I>>,
    policy: &AddressPolicy,
) -> Result<(), UrlRejected>
where
    I: Iterator<Item = std::net::SocketAddr>,
{
    let Ok(Ok(addresses)) = tokio::time::timeout(RESOLVE_TIMEOUT, lookup).await else {
        return Ok(());
    };
    for address in addresses {
        if let Some(reason) = policy.refuse(address.ip()) {
            return Err(rejected(format_args!("the host resolves to {reason}")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    fn addresses(list: &[&str]) -> std::io::Result<std::vec::IntoIter<SocketAddr>> {
        Ok(list.iter().map(|a| a.parse().unwrap()).collect::<Vec<_>>().into_iter())
    }

    #[tokio::test(start_paused = true)]
    async fn a_lookup_slower_than_its_bound_counts_as_unresolved() {
        let policy = AddressPolicy::default();
        let started = tokio::time::Instant::now();
        let never = std::future::pending::<std::io::Result<std::vec::IntoIter<SocketAddr>>>();
        assert_eq!(judge_resolution(never, &policy).await, Ok(()));
        assert_eq!(started.elapsed(), RESOLVE_TIMEOUT, "given up at the bound, not later");
        let slow_private = async {
            tokio::time::sleep(RESOLVE_TIMEOUT / 2).await;
            addresses(&["10.0.0.1:443"])
        };
        assert!(judge_resolution(slow_private, &policy).await.is_err(), "an answer within the bound counts");
        assert!(judge_resolution(async { addresses(&["8.8.8.8:443"]) }, &policy).await.is_ok());
    }
}
