//! Which addresses and host names a webhook may point at: the one SSRF rule, used both when a URL
//! is accepted and again at delivery time, on every address the host resolves to.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is refused, in words for the `invalid_url` message and delivery errors.
pub fn blocked_ipv4_reason(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    let reason = match (a, b, c) {
        (0, _, _) => "an unspecified (0.0.0.0/8) address",
        (10, _, _) => "a private (10.0.0.0/8) address",
        (100, 64..=127, _) => "a carrier-grade NAT (100.64.0.0/10) address",
        (127, _, _) => "a loopback address",
        (169, 254, _) => "a link-local (169.254.0.0/16) address, such as the cloud metadata service",
        (172, 16..=31, _) => "a private (172.16.0.0/12) address",
        (192, 0, 0) => "a reserved (192.0.0.0/24) address",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "a documentation address",
        (192, 88, 99) => "a reserved 6to4 relay (192.88.99.0/24) address",
        (192, 168, _) => "a private (192.168.0.0/16) address",
        (198, 18..=19, _) => "a benchmarking (198.18.0.0/15) address",
        (224..=239, _, _) => "a multicast address",
        (240..=255, _, _) => "a reserved or broadcast (240.0.0.0/4) address",
        _ => return None,
    };
    Some(reason)
}

/// IPv6 rules. Forms that carry an IPv4 address (mapped, compatible, NAT64, 6to4) are judged by
/// the IPv4 address inside them, so `::ffff:127.0.0.1` is as loopback as `127.0.0.1`.
pub fn blocked_ipv6_reason(ip: Ipv6Addr) -> Option<&'static str> {
    if ip.is_unspecified() {
        return Some("the unspecified address");
    }
    if ip.is_loopback() {
        return Some("a loopback address");
    }
    if let Some(v4) = embedded_ipv4(ip) {
        return blocked_ipv4_reason(v4);
    }
    if let Some(candidates) = local_use_nat64_ipv4(ip) {
        // Fail closed: blocked if any reading of the address is.
        return candidates.into_iter().find_map(blocked_ipv4_reason);
    }
    let s = ip.segments();
    let reason = match s[0] {
        0xfc00..=0xfdff => "a unique-local (fc00::/7) address, such as the cloud metadata service",
        0xfe80..=0xfebf => "a link-local (fe80::/10) address",
        0xfec0..=0xfeff => "a site-local (fec0::/10) address",
        0xff00..=0xffff => "a multicast address",
        0x2001 if s[1] < 0x0200 => "a reserved IETF protocol (2001::/23) address",
        0x2001 if s[1] == 0x0db8 => "a documentation (2001:db8::/32) address",
        0x3fff if s[1] < 0x1000 => "a documentation (3fff::/20) address",
        0x2000..=0x3fff => return None,
        // Everything outside 2000::/3 is unallocated or special-purpose.
        _ => "a reserved IPv6 address",
    };
    Some(reason)
}

/// The IPv4 address an IPv6 address stands for, where it stands for one.
fn embedded_ipv4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let low32 = || Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        // ::ffff:a.b.c.d (mapped) and ::a.b.c.d (compatible)
        [0, 0, 0, 0, 0, 0xffff, _, _] | [0, 0, 0, 0, 0, 0, _, _] => Some(low32()),
        // 64:ff9b::a.b.c.d (NAT64 well-known prefix, RFC 6052)
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(low32()),
        // 2002:aabb:ccdd::/48 (6to4)
        [0x2002, hi, lo, ..] => Some(Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8)),
        _ => None,
    }
}

/// The IPv4 addresses an address in the local-use NAT64 prefix `64:ff9b:1::/48` (RFC 8215) may
/// stand for. The operator picks the prefix length inside it, so each length RFC 6052 (section 2.2)
/// allows there is read: /48, /56 and /64 (which skip the reserved octet at bits 64–71) and /96.
fn local_use_nat64_ipv4(ip: Ipv6Addr) -> Option<[Ipv4Addr; 4]> {
    let o = ip.octets();
    if o[..6] != [0x00, 0x64, 0xff, 0x9b, 0x00, 0x01] {
        return None;
    }
    Some([
        Ipv4Addr::new(o[6], o[7], o[9], o[10]),
        Ipv4Addr::new(o[7], o[9], o[10], o[11]),
        Ipv4Addr::new(o[9], o[10], o[11], o[12]),
        Ipv4Addr::new(o[12], o[13], o[14], o[15]),
    ])
}

pub fn blocked_ip_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => blocked_ipv4_reason(v4),
        IpAddr::V6(v6) => blocked_ipv6_reason(v6),
    }
}

/// Names that only mean something inside a network, never on the public internet.
/// `host` is lower-case, without brackets; a trailing dot is ignored.
pub fn blocked_name_reason(host: &str) -> Option<&'static str> {
    let host = host.strip_suffix('.').unwrap_or(host);
    const INTERNAL_SUFFIXES: [&str; 5] = [".localhost", ".local", ".internal", ".localdomain", ".home.arpa"];
    if host == "localhost" || INTERNAL_SUFFIXES.iter().any(|s| host.ends_with(s)) {
        return Some("the host name is for internal networks only");
    }
    if !host.contains('.') {
        return Some("the host must be a fully qualified domain name (single-label hosts are internal)");
    }
    None
}

/// A CIDR block such as `127.0.0.0/8` or `::1/128`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn parse(text: &str) -> Option<Cidr> {
        let (addr, prefix) = match text.trim().split_once('/') {
            Some((addr, prefix)) => (addr.parse::<IpAddr>().ok()?, Some(prefix.parse::<u8>().ok()?)),
            None => (text.trim().parse::<IpAddr>().ok()?, None),
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(Cidr { network: addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        fn masked(bits: u128, prefix: u8, width: u8) -> u128 {
            if prefix == 0 {
                0
            } else {
                bits >> (width - prefix)
            }
        }
        match (self.network, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                masked(u32::from(n).into(), self.prefix, 32) == masked(u32::from(a).into(), self.prefix, 32)
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                masked(u128::from(n), self.prefix, 128) == masked(u128::from(a), self.prefix, 128)
            }
            _ => false,
        }
    }
}

/// The address rule with its development exemptions (`WEBHOOK_ALLOW_PRIVATE_CIDRS`).
#[derive(Debug, Clone, Default)]
pub struct AddressPolicy {
    allowed: Vec<Cidr>,
}

impl AddressPolicy {
    pub fn new(allowed: Vec<Cidr>) -> Self {
        AddressPolicy { allowed }
    }

    /// Parses the comma-separated variable; a malformed entry is an error so that a typo never
    /// silently widens or narrows what is reachable.
    pub fn from_allow_list(list: &str) -> Result<Self, String> {
        let allowed = list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| Cidr::parse(s).ok_or_else(|| format!("WEBHOOK_ALLOW_PRIVATE_CIDRS: `{s}` is not a CIDR")))
            .collect::<Result<_, _>>()?;
        Ok(AddressPolicy { allowed })
    }

    /// `Some(reason)` when the address may not be contacted.
    pub fn refuse(&self, ip: IpAddr) -> Option<&'static str> {
        let reason = blocked_ip_reason(ip)?;
        let unwrapped = match ip {
            IpAddr::V6(v6) => embedded_ipv4(v6).map(IpAddr::V4),
            IpAddr::V4(_) => None,
        };
        let exempt = self.allowed.iter().any(|c| c.contains(ip) || unwrapped.is_some_and(|v4| c.contains(v4)));
        (!exempt).then_some(reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(ip: &str) -> bool {
        blocked_ip_reason(ip.parse().unwrap()).is_some()
    }

    #[test]
    fn blocks_special_ipv4_ranges() {
        for ip in [
            "0.0.0.0",
            "10.1.2.3",
            "100.64.0.1",
            "100.127.255.255",
            "127.0.0.1",
            "127.255.255.254",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.88.99.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
        ] {
            assert!(refused(ip), "{ip} should be refused");
        }
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
        ] {
            assert!(!refused(ip), "{ip} should be allowed");
        }
    }

    #[test]
    fn blocks_special_ipv6_ranges_and_embedded_ipv4() {
        for ip in [
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            // local-use NAT64 (RFC 8215) read at every RFC 6052 prefix length: 127.0.0.1 at /96,
            // 10.0.0.1 at /64, 169.254.169.254 at /48
            "64:ff9b:1::7f00:1",
            "64:ff9b:1:0:a:0:100:0",
            "64:ff9b:1:a9fe:a9:fe00::",
            "2002:7f00:1::",
            "fd00:ec2::254",
            "fc00::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "2001:db8::1",
            "2001::1",
            "3fff::1",
            "100::1",
            "4000::1",
        ] {
            assert!(refused(ip), "{ip} should be refused");
        }
        for ip in [
            "2606:4700:4700::1111",
            "2001:4860:4860::8888",
            "::ffff:8.8.8.8",
            "2002:0808:0808::1",
            // 8.8.8.8 at /96 in the local-use NAT64 prefix; the other readings are public too
            "64:ff9b:1:808:8:808:808:808",
        ] {
            assert!(!refused(ip), "{ip} should be allowed");
        }
    }

    #[test]
    fn blocks_internal_names() {
        for host in [
            "localhost",
            "localhost.",
            "api.localhost",
            "printer.local",
            "db.internal",
            "x.localdomain",
            "nas.home.arpa",
            "intranet",
            "intranet.",
        ] {
            assert!(blocked_name_reason(host).is_some(), "{host} should be refused");
        }
        for host in ["example.com", "example.com.", "localhost.example.com", "local.example.org", "internal.io"] {
            assert!(blocked_name_reason(host).is_none(), "{host} should be allowed");
        }
    }

    #[test]
    fn cidrs_parse_and_match() {
        let c = Cidr::parse("127.0.0.0/8").unwrap();
        assert!(c.contains("127.9.9.9".parse().unwrap()));
        assert!(!c.contains("128.0.0.1".parse().unwrap()));
        assert!(!c.contains("::1".parse().unwrap()));
        assert!(Cidr::parse("::1").unwrap().contains("::1".parse().unwrap()));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains("10.0.0.1".parse().unwrap()));
        assert!(Cidr::parse("10.0.0.0/33").is_none());
        assert!(Cidr::parse("nonsense").is_none());
    }

    #[test]
    fn allow_list_exempts_addresses_including_mapped_forms() {
        let policy = AddressPolicy::from_allow_list(" 127.0.0.1/32 ,").unwrap();
        assert!(policy.refuse("127.0.0.1".parse().unwrap()).is_none());
        assert!(policy.refuse("::ffff:127.0.0.1".parse().unwrap()).is_none());
        assert!(policy.refuse("127.0.0.2".parse().unwrap()).is_some());
        assert!(policy.refuse("10.0.0.1".parse().unwrap()).is_some());
        assert!(AddressPolicy::from_allow_list("127.0.0.1/99").is_err());
    }
}
