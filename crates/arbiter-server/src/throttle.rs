//! Slowing down password guessing at the web UI's sign-in, and telling the
//! client's address behind a trusted proxy.
//!
//! Every attempt is counted **before** the password hash is checked (so
//! concurrent attempts cannot all slip under the limit while the slow hash
//! runs): per client address, a fixed window with a hard limit (429 with
//! `Retry-After` past it); per account, growing delays after a few
//! failures — never a lockout, which anyone could trigger against anyone.
//! A success un-counts only its own attempt at the address and clears only
//! its own account's delays: signing in to one's own account does not buy
//! more guesses at another's. Kept in memory, per replica.

use axum::http::HeaderMap;
use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

pub use ipnet::IpNet;

/// Limits of the sign-in throttle.
#[derive(Debug, Clone, PartialEq)]
pub struct SignInLimits {
    /// Attempts (less successes) allowed per client address in a window.
    pub per_address: u32,
    /// The window, and how long an account's failures are remembered.
    pub window: Duration,
    /// Failures of an account answered without delay.
    pub free_failures: u32,
    /// Longest delay before checking a password.
    pub max_delay: Duration,
}

impl Default for SignInLimits {
    fn default() -> Self {
        SignInLimits {
            per_address: 10,
            window: Duration::from_secs(5 * 60),
            free_failures: 5,
            max_delay: Duration::from_secs(8),
        }
    }
}

/// Addresses or accounts remembered at most each.
const MAX_TRACKED: usize = 10_000;
/// The first delay after the free failures; each next one doubles.
const FIRST_DELAY_MS: u64 = 500;

#[derive(Debug, Clone, Copy)]
struct Window {
    start: i64,
    n: u32,
}

/// The counters.
#[derive(Default)]
pub struct Throttle {
    addresses: HashMap<IpAddr, Window>,
    /// Failures per account (and when the latest was): counted when an
    /// attempt starts, forgotten on its success.
    accounts: HashMap<String, Window>,
}

/// An attempt refused: seconds until the address may try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited(pub u64);

/// Makes room for one more key, dropping expired entries first, then the
/// oldest (never everything: that would reset every counter at once).
fn make_room<K: Clone + Eq + std::hash::Hash>(
    m: &mut HashMap<K, Window>,
    key: &K,
    now: i64,
    window_ms: i64,
) {
    if m.len() < MAX_TRACKED || m.contains_key(key) {
        return;
    }
    m.retain(|_, w| now - w.start < window_ms);
    while m.len() >= MAX_TRACKED {
        let Some(oldest) = m
            .iter()
            .min_by_key(|(_, w)| w.start)
            .map(|(k, _)| k.clone())
        else {
            return;
        };
        m.remove(&oldest);
    }
}

impl Throttle {
    /// Counts an attempt from `ip` at `account` (`None`: a token sign-in),
    /// before it is checked. Returns how long to wait before checking it,
    /// or [`Limited`] when the address is over its limit.
    pub fn attempt(
        &mut self,
        limits: &SignInLimits,
        ip: IpAddr,
        account: Option<&str>,
        now: i64,
    ) -> Result<Duration, Limited> {
        let window_ms = limits.window.as_millis().min(i64::MAX as u128) as i64;
        make_room(&mut self.addresses, &ip, now, window_ms);
        let w = self
            .addresses
            .entry(ip)
            .or_insert(Window { start: now, n: 0 });
        if now - w.start >= window_ms {
            *w = Window { start: now, n: 0 };
        }
        if w.n >= limits.per_address {
            let ms = (w.start + window_ms - now).max(0);
            return Err(Limited(((ms + 999) / 1000).max(1) as u64));
        }
        w.n += 1;
        let Some(account) = account else {
            return Ok(Duration::ZERO);
        };
        let key = account.to_string();
        make_room(&mut self.accounts, &key, now, window_ms);
        let a = self
            .accounts
            .entry(key)
            .or_insert(Window { start: now, n: 0 });
        if now - a.start >= window_ms {
            *a = Window { start: now, n: 0 };
        }
        let failures = a.n;
        a.n = a.n.saturating_add(1);
        // The window runs from the latest failure.
        a.start = now;
        Ok(delay(limits, failures))
    }

    /// An attempt succeeded: it is un-counted at its address, and the
    /// account's own failures are forgotten.
    pub fn succeeded(&mut self, ip: IpAddr, account: Option<&str>) {
        if let Some(w) = self.addresses.get_mut(&ip) {
            w.n = w.n.saturating_sub(1);
        }
        if let Some(a) = account {
            self.accounts.remove(a);
        }
    }
}

/// The delay before checking a password of an account that failed
/// `failures` times: none for the free ones, then doubling up to the cap.
pub fn delay(limits: &SignInLimits, failures: u32) -> Duration {
    let Some(k) = failures.checked_sub(limits.free_failures) else {
        return Duration::ZERO;
    };
    let ms = FIRST_DELAY_MS.saturating_mul(1u64 << k.min(32));
    Duration::from_millis(ms).min(limits.max_delay)
}

/// Parses a trusted proxy: a CIDR block (`10.0.0.0/8`, `fd00::/8`) or one
/// address.
pub fn parse_trusted_proxy(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    if let Ok(n) = s.parse::<IpNet>() {
        return Ok(n.trunc());
    }
    s.parse::<IpAddr>().map(IpNet::from).map_err(|_| {
        format!("{s:?} is neither an address nor a CIDR block (e.g. 10.0.0.0/8 or 2001:db8::/32)")
    })
}

/// One hop of `Forwarded` (`for=…`) or `X-Forwarded-For`: an address,
/// maybe quoted, bracketed or with a port.
fn hop_address(s: &str) -> Option<IpAddr> {
    let s = s.trim().trim_matches('"');
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(sa) = s.parse::<std::net::SocketAddr>() {
        return Some(sa.ip());
    }
    // `[v6]` without a port.
    s.strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .and_then(|r| r.parse().ok())
}

/// The forwarded chain, client first: from `Forwarded` (RFC 7239) if
/// present, else `X-Forwarded-For`. `None` for a hop that is not an
/// address (`unknown`, an obfuscated name, garbage).
fn forwarded_chain(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let forwarded: Vec<&str> = headers
        .get_all("forwarded")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    if !forwarded.is_empty() {
        return forwarded
            .iter()
            .flat_map(|v| v.split(','))
            .map(|element| {
                element.split(';').find_map(|pair| {
                    let (k, v) = pair.split_once('=')?;
                    k.trim().eq_ignore_ascii_case("for").then(|| hop_address(v))
                })?
            })
            .collect();
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(hop_address)
        .collect()
}

/// The client's address: the direct peer, unless it is a trusted proxy;
/// then the forwarded chain is walked from the nearest hop back, past
/// trusted proxies, to the first address that is not one. A hop that is not
/// an address stops the walk at the last trusted hop (nothing before it can
/// be believed).
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let mut client = peer;
    for hop in forwarded_chain(headers).into_iter().rev() {
        match hop {
            Some(ip) => {
                client = ip;
                if !is_trusted(&ip) {
                    return ip;
                }
            }
            None => return client,
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    #[test]
    fn attempts_are_counted_before_checking_and_successes_refund_only_themselves() {
        let l = SignInLimits {
            free_failures: 100,
            ..SignInLimits::default()
        };
        let mut t = Throttle::default();
        let a = ip("192.0.2.1");
        for _ in 0..10 {
            assert!(t.attempt(&l, a, Some("vic"), 1000).is_ok());
        }
        assert_eq!(t.attempt(&l, a, Some("vic"), 1000), Err(Limited(300)));
        // Another address is not affected; the window passes.
        assert!(t.attempt(&l, ip("192.0.2.2"), Some("vic"), 1000).is_ok());
        assert!(t.attempt(&l, a, Some("vic"), 1000 + 300_000).is_ok());
        // A success un-counts its own attempt, nothing more.
        let mut t = Throttle::default();
        for _ in 0..9 {
            assert!(t.attempt(&l, a, Some("vic"), 0).is_ok());
        }
        assert!(t.attempt(&l, a, Some("mallory"), 0).is_ok());
        t.succeeded(a, Some("mallory"));
        assert!(t.attempt(&l, a, Some("vic"), 0).is_ok());
        assert!(t.attempt(&l, a, Some("vic"), 0).is_err());
    }

    #[test]
    fn accounts_get_growing_delays_that_their_own_success_clears() {
        let l = SignInLimits {
            per_address: 1000,
            ..SignInLimits::default()
        };
        let mut t = Throttle::default();
        let waits: Vec<u128> = (0..10)
            .map(|i| {
                // From many addresses: a distributed guesser.
                let from = IpAddr::from([198, 51, 100, i as u8]);
                t.attempt(&l, from, Some("vic"), 0)
                    .map(|d| d.as_millis())
                    .unwrap_or(u128::MAX)
            })
            .collect();
        assert_eq!(waits, [0, 0, 0, 0, 0, 500, 1000, 2000, 4000, 8000]);
        assert_eq!(delay(&l, 60).as_millis(), 8000);
        // Another account's success does not help vic's guesser...
        t.succeeded(ip("198.51.100.1"), Some("mallory"));
        assert_eq!(
            t.attempt(&l, ip("198.51.100.1"), Some("vic"), 0),
            Ok(Duration::from_secs(8))
        );
        // ...vic's own success clears them; and they are forgotten after the window.
        t.succeeded(ip("198.51.100.1"), Some("vic"));
        assert_eq!(
            t.attempt(&l, ip("198.51.100.1"), Some("vic"), 0),
            Ok(Duration::ZERO)
        );
        for _ in 0..8 {
            let _ = t.attempt(&l, ip("198.51.100.2"), Some("eve"), 0);
        }
        assert_eq!(
            t.attempt(&l, ip("198.51.100.2"), Some("eve"), 300_000),
            Ok(Duration::ZERO)
        );
    }

    #[test]
    fn the_forwarded_address_counts_only_behind_a_trusted_proxy() {
        let trusted = vec![
            parse_trusted_proxy("10.0.0.0/8").unwrap_or_else(|_| IpNet::default()),
            parse_trusted_proxy("::1").unwrap_or_else(|_| IpNet::default()),
        ];
        let h = |pairs: &[(&'static str, &'static str)]| {
            let mut m = HeaderMap::new();
            for (k, v) in pairs {
                m.append(*k, HeaderValue::from_static(v));
            }
            m
        };
        let xff = h(&[("x-forwarded-for", "203.0.113.9, 10.1.2.3")]);
        assert_eq!(client_ip(ip("192.0.2.7"), &xff, &trusted), ip("192.0.2.7"));
        assert_eq!(client_ip(ip("10.0.0.1"), &xff, &trusted), ip("203.0.113.9"));
        assert_eq!(client_ip(ip("10.0.0.1"), &xff, &[]), ip("10.0.0.1"));
        // A client forging the start of the chain gets the hop the proxy saw.
        let forged = h(&[("x-forwarded-for", "1.2.3.4, 203.0.113.9")]);
        assert_eq!(
            client_ip(ip("10.0.0.1"), &forged, &trusted),
            ip("203.0.113.9")
        );
        let fwd = h(&[(
            "forwarded",
            "for=\"[2001:db8::1]:4711\";proto=https, for=10.9.9.9",
        )]);
        assert_eq!(client_ip(ip("::1"), &fwd, &trusted), ip("2001:db8::1"));
        let junk = h(&[("x-forwarded-for", "203.0.113.9, garbage, 10.1.1.1")]);
        assert_eq!(client_ip(ip("10.0.0.1"), &junk, &trusted), ip("10.1.1.1"));
        assert_eq!(client_ip(ip("10.0.0.1"), &h(&[]), &trusted), ip("10.0.0.1"));
        assert!(parse_trusted_proxy("10.0.0.300/8").is_err());
        assert!(parse_trusted_proxy("proxy.example").is_err());
        assert_eq!(
            parse_trusted_proxy("10.1.2.3/8").map(|n| n.to_string()),
            Ok("10.0.0.0/8".to_string())
        );
    }
}
