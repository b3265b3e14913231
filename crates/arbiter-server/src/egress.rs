//! Where webhook deliveries may go, with `--webhook-deny-private`.
//!
//! A webhook URL is chosen by an admin, but the address it names is decided
//! by DNS at delivery time; a receiver on the server's own network (its
//! loopback, a private range, a cloud metadata endpoint on a link-local
//! address) may answer requests nobody outside could make. With the flag,
//! such targets are refused:
//!
//! - IP literals in those ranges when the subscription is made (422) and
//!   again before each attempt (for subscriptions made before the flag);
//! - names when they resolve: the delivery client's resolver
//!   ([`CheckedResolver`]) resolves, checks every address and hands the
//!   connector only the addresses that passed, so the connection goes to an
//!   address that was checked (no window for DNS rebinding between a check
//!   and the connection). A name with no allowed address is refused.
//!
//! The flag also turns off proxies for deliveries (a proxy would resolve
//! the name itself, out of reach of the check).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The kind of a refused address, or `None` for an address deliveries may
/// go to.
pub fn forbidden(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                // ::ffff:a.b.c.d reaches a.b.c.d.
                return forbidden_v4(v4);
            }
            forbidden_v6(v6)
        }
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let o = ip.octets();
    if ip.is_loopback() {
        Some("loopback")
    } else if o[0] == 10
        || (o[0] == 172 && (16..=31).contains(&o[1]))
        || (o[0] == 192 && o[1] == 168)
    {
        Some("private")
    } else if o[0] == 169 && o[1] == 254 {
        Some("link-local")
    } else if o[0] == 0 {
        // 0.0.0.0/8, "this network": 0.0.0.0 reaches the local host.
        Some("unspecified")
    } else {
        None
    }
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_unspecified() {
        Some("unspecified")
    } else if (s[0] & 0xfe00) == 0xfc00 {
        Some("private")
    } else if (s[0] & 0xffc0) == 0xfe80 {
        Some("link-local")
    } else {
        None
    }
}

/// Why a target is refused, in the words of the delivery log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("refused by --webhook-deny-private: {host} {what}")]
pub struct Refused {
    /// The host as named in the URL.
    pub host: String,
    /// What it is or resolves to.
    pub what: String,
}

fn is_kind(kind: &str) -> String {
    let article = if kind.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("is {article} {kind} address")
}

/// The host of an `http[s]://` URL when it is an IP literal.
pub fn literal_host(url: &str) -> Option<IpAddr> {
    let u = reqwest::Url::parse(url).ok()?;
    // The parser normalises IPv4 spellings (2130706433, 0x7f.1) and
    // brackets IPv6 literals.
    let h = u.host_str()?;
    h.trim_start_matches('[').trim_end_matches(']').parse().ok()
}

/// Refuses a URL whose host is an IP literal in a refused range.
pub fn check_literal(url: &str) -> Result<(), Refused> {
    match literal_host(url) {
        Some(ip) => match forbidden(ip) {
            Some(kind) => Err(Refused {
                host: ip.to_string(),
                what: is_kind(kind),
            }),
            None => Ok(()),
        },
        None => Ok(()),
    }
}

/// Keeps the allowed addresses of `host`; refuses when none is left.
pub fn filter(host: &str, addrs: Vec<SocketAddr>) -> Result<Vec<SocketAddr>, Refused> {
    let mut refused = Vec::new();
    let mut allowed = Vec::new();
    for a in addrs {
        match forbidden(a.ip()) {
            Some(kind) => refused.push(format!("{} {}", a.ip(), is_kind(kind))),
            None => allowed.push(a),
        }
    }
    if allowed.is_empty() {
        let what = if refused.is_empty() {
            "resolves to no address".to_string()
        } else {
            format!(
                "resolves only to refused addresses ({})",
                refused.join(", ")
            )
        };
        return Err(Refused {
            host: host.to_string(),
            what,
        });
    }
    if !refused.is_empty() {
        tracing::warn!(host, refused = %refused.join(", "), "webhook target: some addresses refused by --webhook-deny-private");
    }
    Ok(allowed)
}

/// The delivery client's resolver with `--webhook-deny-private`: the
/// system's resolver, then [`filter`].
#[derive(Debug, Default, Clone)]
pub struct CheckedResolver;

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed = filter(&host, addrs)?;
            let it: reqwest::dns::Addrs = Box::new(allowed.into_iter());
            Ok(it)
        })
    }
}

/// The refusal in an error's chain, if the error is one.
pub fn refusal_in(e: &(dyn std::error::Error + 'static)) -> Option<Refused> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(r) = err.downcast_ref::<Refused>() {
            return Some(r.clone());
        }
        cur = err.source();
    }
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn kind(s: &str) -> Option<&'static str> {
        forbidden(s.parse().unwrap())
    }

    #[test]
    fn every_refused_range_and_its_edges() {
        for (ip, want) in [
            ("127.0.0.1", Some("loopback")),
            ("127.255.255.254", Some("loopback")),
            ("10.0.0.1", Some("private")),
            ("10.255.255.255", Some("private")),
            ("172.16.0.1", Some("private")),
            ("172.31.255.255", Some("private")),
            ("192.168.1.1", Some("private")),
            ("169.254.169.254", Some("link-local")),
            ("169.254.0.1", Some("link-local")),
            ("0.0.0.0", Some("unspecified")),
            ("0.1.2.3", Some("unspecified")),
            ("::1", Some("loopback")),
            ("::", Some("unspecified")),
            ("fc00::1", Some("private")),
            ("fd12:3456::1", Some("private")),
            ("fe80::1", Some("link-local")),
            ("febf::1", Some("link-local")),
            // IPv4-mapped forms reach the IPv4 address.
            ("::ffff:127.0.0.1", Some("loopback")),
            ("::ffff:10.0.0.1", Some("private")),
            ("::ffff:172.20.0.1", Some("private")),
            ("::ffff:192.168.0.1", Some("private")),
            ("::ffff:169.254.169.254", Some("link-local")),
            ("::ffff:0.0.0.0", Some("unspecified")),
            // Just outside.
            ("172.15.255.255", None),
            ("172.32.0.0", None),
            ("192.167.255.255", None),
            ("169.253.255.255", None),
            ("11.0.0.1", None),
            ("1.1.1.1", None),
            ("128.0.0.1", None),
            ("fbff::1", None),
            ("fec0::1", None),
            ("2001:db8::1", None),
            ("::ffff:8.8.8.8", None),
        ] {
            assert_eq!(kind(ip), want, "{ip}");
        }
    }

    #[test]
    fn literals_are_read_from_urls() {
        assert!(check_literal("http://127.0.0.1:9000/hook").is_err());
        assert!(check_literal("http://[::ffff:10.0.0.1]/x").is_err());
        assert!(check_literal("http://[fe80::1]:80/").is_err());
        // The URL parser normalises other spellings of 127.0.0.1.
        assert!(check_literal("http://2130706433/").is_err());
        assert!(check_literal("http://0x7f.1/").is_err());
        assert!(check_literal("https://receiver.example.com/hook").is_ok());
        assert!(check_literal("http://localhost:8080/").is_ok());
        let e = check_literal("http://169.254.169.254/latest").unwrap_err();
        assert_eq!(
            e.to_string(),
            "refused by --webhook-deny-private: 169.254.169.254 is a link-local address"
        );
    }

    #[test]
    fn resolved_addresses_are_filtered() {
        let a = |s: &str| -> SocketAddr { s.parse().unwrap() };
        let mixed = vec![a("127.0.0.1:0"), a("93.184.215.14:0")];
        assert_eq!(filter("h", mixed).unwrap(), vec![a("93.184.215.14:0")]);
        let e = filter("localhost", vec![a("127.0.0.1:0"), a("[::1]:0")]).unwrap_err();
        assert_eq!(e.to_string(), "refused by --webhook-deny-private: localhost resolves only to refused addresses (127.0.0.1 is a loopback address, ::1 is a loopback address)");
        assert!(filter("h", vec![]).is_err());
    }
}
