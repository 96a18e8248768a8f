//! Where webhooks may be sent (`--webhook-targets`): anywhere, or only to public addresses, so that a webhook URL
//! cannot make the server call into its own network (a cloud metadata service at 169.254.169.254, an admin port on
//! 127.0.0.1, a database on 10.0.0.5).
//!
//! With [`TargetPolicy::Public`] a URL is checked twice:
//! - when a webhook is created, edited or replaced ([`check_url`]): an IP literal in any form the URL parser
//!   accepts (`http://2130706433/`, `http://0x7f.1/`, `http://[::ffff:127.0.0.1]/` are all 127.0.0.1) must be
//!   public, and `localhost` names (RFC 6761) are refused; other names are not resolved then (DNS may change);
//! - at every delivery, after DNS resolution ([`PublicResolver`]): only public addresses of the name are connected
//!   to, so a name that resolves to 127.0.0.1 is refused, and the addresses checked are the ones used.
//!
//! Which addresses are not public is hand-written below from the IANA special-purpose registries: the standard
//! library's predicates cover most ranges, but `is_global` and the 100.64/10 and 198.18/15 predicates are not
//! stable, and a crate for a table of twenty ranges would be more to review than the table.

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::Url;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Which addresses webhook deliveries may go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum TargetPolicy {
    /// Any address, including loopback and private networks: for development and tests (`--dev`, `Config::local`).
    #[default]
    Any,
    /// Public addresses only: private, loopback, link-local, unique-local, shared (CGNAT), unspecified, multicast,
    /// documentation and reserved ranges are refused, in IPv4 and IPv6, including IPv4 addresses written in IPv6
    /// (`::ffff:a.b.c.d`, `::a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`).
    Public,
}

/// Whether `ip` is a public (globally routable unicast) address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let special = a == 0 // 0.0.0.0/8, "this network", 0.0.0.0 included
        || ip.is_loopback() // 127.0.0.0/8
        || ip.is_private() // 10/8, 172.16/12, 192.168/16
        || ip.is_link_local() // 169.254/16, cloud metadata services
        || (a == 100 && (b & 0xc0) == 64) // 100.64/10, shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // 192.0.0/24, IETF protocol assignments
        || ip.is_documentation() // 192.0.2/24, 198.51.100/24, 203.0.113/24
        || (a == 198 && (b & 0xfe) == 18) // 198.18/15, benchmarking
        || ip.is_multicast() // 224/4
        || a >= 240; // 240/4 reserved, 255.255.255.255 broadcast
    !special
}

/// The IPv4 address an IPv6 address carries, for the forms that reach it: mapped, compatible, NAT64 and 6to4.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let v4 = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    if ip.is_loopback() || ip.is_unspecified() {
        None // ::1 and :: are IPv6's own
    } else if let Some(mapped) = ip.to_ipv4_mapped() {
        Some(mapped) // ::ffff:a.b.c.d
    } else if s[..6] == [0; 6] || s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        Some(v4(s[6], s[7])) // ::a.b.c.d (deprecated "compatible"), 64:ff9b::/96 (NAT64)
    } else if s[0] == 0x2002 {
        Some(v4(s[1], s[2])) // 2002::/16, 6to4
    } else {
        None
    }
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    let special = ip.is_unspecified() // ::
        || ip.is_loopback() // ::1
        || ip.is_unique_local() // fc00::/7
        || ip.is_unicast_link_local() // fe80::/10
        || (s[0] & 0xffc0) == 0xfec0 // fec0::/10, deprecated site-local
        || ip.is_multicast() // ff00::/8
        || (s[0] == 0x2001 && s[1] == 0x0db8) // 2001:db8::/32, documentation
        || (s[0] == 0x0100 && s[1..4] == [0, 0, 0]) // 100::/64, discard-only
        || (s[0] == 0x2001 && s[1] < 0x0200) // 2001::/23 IETF assignments, Teredo 2001::/32 among them
        || (s[0] == 0x3fff && s[1] < 0x1000); // 3fff::/20, documentation (RFC 9637)
                                              // An allow-list on top: only global unicast (2000::/3) is ever public, so the ranges above that lie elsewhere and
                                              // any range assigned later outside it (64:ff9b:1::/48 local-use NAT64, ::ffff:0:0:0/96 IPv4-translated,
                                              // 5f00::/16 SRv6, ...) are refused without being listed.
    let global_unicast = (s[0] & 0xe000) == 0x2000;
    global_unicast && !special
}

/// Checks a webhook URL as the REST API receives it: an absolute `http://` or `https://` URL with a host, and under
/// [`TargetPolicy::Public`] not an address or `localhost` name that is not public. The error names the field, e.g.
/// "`url` points at 127.0.0.1, a loopback, private or otherwise non-public address; ...".
pub fn check_url(url: &str, policy: TargetPolicy) -> Result<(), String> {
    let shape = || format!("`url` must be an absolute http:// or https:// URL, got `{url}`");
    // The scheme is case-insensitive (RFC 3986): `HTTP://` is `http://`.
    let (scheme, rest) = url.split_once("://").ok_or_else(shape)?;
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return Err(shape());
    }
    if rest.is_empty() || rest.starts_with('/') || url.contains(char::is_whitespace) {
        return Err(shape());
    }
    let parsed = Url::parse(url).map_err(|_| shape())?;
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(shape());
    }
    match policy {
        TargetPolicy::Any => Ok(()),
        TargetPolicy::Public => check_host(&parsed).map_err(|why| format!("`url` {why}")),
    }
}

/// Under [`TargetPolicy::Public`], whether the URL's host may be called: IP literals must be public, `localhost`
/// names are refused. Other names are left to [`PublicResolver`].
pub fn check_host(url: &Url) -> Result<(), String> {
    check_address(url)?;
    match url.host_str() {
        Some(name) if is_localhost(name) => Err(refusal(name)),
        Some(_) => Ok(()),
        None => Err("has no host".into()),
    }
}

/// The delivery's check before connecting: an IP literal in the URL is connected to without resolution, so it must
/// be public here; a name (even `localhost`) is checked by [`PublicResolver`] on what it resolves to.
pub fn check_address(url: &Url) -> Result<(), String> {
    // The parser has already turned every IPv4 spelling into dotted decimal; IPv6 comes in brackets.
    let host = url.host_str().unwrap_or_default();
    match host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
        Ok(ip) if !is_public(ip) => Err(refusal(&ip.to_string())),
        _ => Ok(()),
    }
}

fn refusal(shown: &str) -> String {
    format!(
        "points at {shown}, a loopback, private or otherwise non-public address; this server sends webhooks to \
         public addresses only (--webhook-targets public)"
    )
}

/// `localhost` and `*.localhost`, with or without the final dot: loopback by definition (RFC 6761 §6.3).
fn is_localhost(name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost")
}

/// A DNS resolver for the delivery client that hands out only a name's public addresses, and fails (with a message
/// that names the name and what it resolved to) when it has none. The client connects only to what this returns,
/// so the addresses checked are the ones used: no second lookup can answer differently.
#[derive(Debug, Clone, Copy, Default)]
pub struct PublicResolver;

impl Resolve for PublicResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            // The system resolver (getaddrinfo, off the async threads), as reqwest's default resolver uses.
            let all: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = all.iter().copied().filter(|addr| is_public(addr.ip())).collect();
            if public.is_empty() || is_localhost(&host) {
                let shown: Vec<String> = all.iter().map(|addr| addr.ip().to_string()).collect();
                return Err(format!(
                    "refused: `{host}` resolves to no public address ({}); this server sends webhooks to public \
                     addresses only (--webhook-targets public)",
                    shown.join(", ")
                )
                .into());
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(text: &str) -> bool {
        is_public(text.parse().unwrap())
    }

    #[test]
    fn private_loopback_link_local_and_reserved_addresses_are_not_public() {
        let refused = [
            "127.0.0.1",
            "127.255.255.254",
            "10.0.0.5",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "0.0.0.0",
            "0.1.2.3",
            "192.0.0.8",
            "192.0.2.1",
            "198.18.0.1",
            "224.0.0.1",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "::ffff:10.1.2.3",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "100::1",
        ];
        for ip in refused {
            assert!(!public(ip), "{ip} must not be public");
        }
        let allowed = ["1.1.1.1", "8.8.8.8", "100.63.255.255", "100.128.0.1", "172.32.0.1", "2606:4700::1111"];
        for ip in allowed {
            assert!(public(ip), "{ip} is public");
        }
        assert!(public("::ffff:1.1.1.1") && public("64:ff9b::101:101"), "embedded public IPv4 is public");
        for text in [
            "64:ff9b:1::7f00:1",                    // local-use NAT64 holding 127.0.0.1
            "64:ff9b:1::a00:1",                     // ... and 10.0.0.1
            "::ffff:0:7f00:1",                      // IPv4-translated 127.0.0.1
            "::ffff:0:a9fe:a9fe",                   // IPv4-translated 169.254.169.254
            "2001::",                               // Teredo
            "2001:0:7f00:1::",                      // Teredo, server 127.0.0.1
            "2001:0:4136:e378:8000:63bf:80ff:fffe", // Teredo, client 127.0.0.1
            "3fff::1",                              // documentation (RFC 9637)
            "5f00::1",                              // SRv6 SIDs
            "4000::1",                              // outside global unicast
        ] {
            assert!(!public(text), "{text} is not public");
        }
        assert!(public("2606:4700::1111") && public("2a00:1450:4001::1"), "global unicast stays public");
    }

    #[test]
    fn urls_are_checked_in_every_form_the_parser_accepts() {
        for url in [
            "http://127.0.0.1/h",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://0177.0.0.1/",
            "http://127.1/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::1]:8080/",
            "http://localhost/",
            "http://LOCALHOST./",
            "http://api.localhost/",
            "https://169.254.169.254/latest/meta-data",
            "http://0.0.0.0:9000/",
            "http://[fe80::1]/",
            "HTTP://127.0.0.1/",
            "http://[64:ff9b:1::7f00:1]/",
        ] {
            let error = check_url(url, TargetPolicy::Public).expect_err(url);
            assert!(error.starts_with("`url` points at") && error.contains("public addresses only"), "{error}");
            assert_eq!(check_url(url, TargetPolicy::Any), Ok(()), "{url} is fine without the policy");
        }
        for url in [
            "https://hooks.example.com/rtk",
            "http://1.1.1.1:8080/x",
            "https://[2606:4700::1111]/",
            "HTTP://hooks.example.com/",
            "Https://hooks.example.com/",
        ] {
            assert_eq!(check_url(url, TargetPolicy::Public), Ok(()), "{url}");
        }
        for bad in ["ftp://example.com/", "example.com/hook", "http://", "https:///path", "http://exa mple.com/"] {
            let error = check_url(bad, TargetPolicy::Any).expect_err(bad);
            assert!(error.contains("absolute http:// or https:// URL"), "{error}");
        }
    }

    #[tokio::test]
    async fn the_resolver_refuses_names_without_a_public_address() {
        let name: Name = "localhost".parse().unwrap();
        let error = PublicResolver.resolve(name).await.err().expect("localhost is refused").to_string();
        assert!(error.contains("`localhost` resolves to no public address"), "{error}");
    }
}
