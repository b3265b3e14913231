//! Web sessions (cookies) for the reviewers' UI.
//!
//! Signing in (with a password or an API token) opens a session: a random
//! 256-bit secret in a cookie that is `HttpOnly` (no script can read it),
//! `SameSite=Strict` (no other site's page can make the browser send it) and
//! `Secure` with the `__Host-` prefix when the page was served over https
//! (directly or, as a proxy says with `X-Forwarded-Proto`/`Forwarded`,
//! behind one). Only the secret's SHA-256 is stored, with an expiry;
//! signing out deletes it.
//!
//! Every form carries a CSRF token derived from the session secret (so it
//! is per session and needs no storage) and every POST is also checked for
//! a same-origin `Origin` (or `Referer`). The sign-in form, which has no
//! session yet, uses a double-submit cookie instead.
//!
//! A session cookie only ever authenticates UI pages (the auth middleware
//! asks [`from_cookie`] for UI paths only), so the JSON API, which takes no
//! CSRF token, cannot be driven by a cookie.

use crate::auth::Principal;
use crate::error::ApiResult;
use crate::AppState;
use axum::http::{header, HeaderMap, HeaderValue};
use sha2::{Digest, Sha256};

/// The session cookie over plain http.
pub const COOKIE: &str = "arbiter_session";
/// The session cookie over https (`__Host-`: Secure, whole site, this host only).
pub const COOKIE_SECURE: &str = "__Host-arbiter_session";
/// The sign-in form's double-submit CSRF cookie.
pub const LOGIN_COOKIE: &str = "arbiter_login";
/// The sign-in form's cookie over https.
pub const LOGIN_COOKIE_SECURE: &str = "__Host-arbiter_login";

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// The session secret the request carries, if any.
pub fn secret(headers: &HeaderMap) -> Option<&str> {
    cookie(headers, COOKIE_SECURE).or_else(|| cookie(headers, COOKIE))
}

/// The principal of a valid session cookie, if the request carries one.
pub async fn from_cookie(app: &AppState, headers: &HeaderMap) -> ApiResult<Option<Principal>> {
    let Some(secret) = secret(headers) else {
        return Ok(None);
    };
    let found =
        arbiter_store::sessions::authenticate(app.store.pool(), secret, arbiter_store::now_ms())
            .await?;
    Ok(found.map(|s| Principal::User {
        name: s.user.name,
        role: s.user.role,
        token_id: None,
    }))
}

fn digest_hex(domain: &[u8], secret: &str) -> String {
    let mut h = Sha256::new();
    h.update(domain);
    h.update(secret.as_bytes());
    hex::encode(h.finalize())
}

/// The CSRF token of the session with this secret: SHA-256 of the secret
/// under its own domain (it reveals nothing of the secret, and differs from
/// the stored hash).
pub fn csrf_token(secret: &str) -> String {
    digest_hex(b"arbiter-csrf-v1\0", secret)
}

/// Constant-time equality of two strings.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Whether the request reached us over https: a proxy in front says so
/// with `X-Forwarded-Proto: https` or `Forwarded: proto=https`.
pub fn is_https(headers: &HeaderMap) -> bool {
    let xfp = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"));
    let fwd = headers
        .get(header::FORWARDED)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .is_some_and(|v| {
            v.split(';').any(|kv| {
                kv.trim().split_once('=').is_some_and(|(k, val)| {
                    k.trim().eq_ignore_ascii_case("proto")
                        && val.trim().trim_matches('"').eq_ignore_ascii_case("https")
                })
            })
        });
    xfp || fwd
}

/// A `Set-Cookie` value: `HttpOnly; SameSite=Strict; Path=/`, plus `Secure`
/// (and the `__Host-` name) over https. `max_age` 0 deletes the cookie.
pub fn set_cookie(
    https: bool,
    plain: &str,
    secure: &str,
    value: &str,
    max_age: u64,
) -> HeaderValue {
    let name = if https { secure } else { plain };
    let mut s = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}");
    if https {
        s.push_str("; Secure");
    }
    // Names and values are ours (hex and fixed words): always valid.
    HeaderValue::from_str(&s).unwrap_or(HeaderValue::from_static("invalid=1; Max-Age=0"))
}

/// Why a POST did not come from one of our pages.
pub fn cross_origin(headers: &HeaderMap) -> Option<String> {
    let host = headers
        .get("x-forwarded-host")
        .or_else(|| headers.get(header::HOST))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(|v| v.trim().to_ascii_lowercase());
    let scheme = if is_https(headers) { "https" } else { "http" };
    let origin = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(|o| o.trim().to_ascii_lowercase());
    let referer_origin = || {
        headers
            .get(header::REFERER)
            .and_then(|v| v.to_str().ok())
            .map(|r| {
                let r = r.trim().to_ascii_lowercase();
                // scheme://host[:port] — everything before the first '/' after "://".
                match r.find("://") {
                    Some(i) => match r[i + 3..].find('/') {
                        Some(j) => r[..i + 3 + j].to_string(),
                        None => r,
                    },
                    None => r,
                }
            })
    };
    let Some(seen) = origin.or_else(referer_origin) else {
        // Browsers send Origin with every form POST; a request without
        // either header is not a browser's cross-site request (and still
        // needs the CSRF token).
        return None;
    };
    let Some(host) = host else {
        return Some("the request has no Host header".into());
    };
    let expected = format!("{scheme}://{host}");
    if seen == expected {
        None
    } else {
        Some(format!(
            "the form was sent from {seen}, not from this site ({expected})"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn cookies_are_found_among_others() {
        let h = headers(&[
            ("cookie", "a=1; arbiter_session=arbs_x ; b=2"),
            ("cookie", "c=3"),
        ]);
        assert_eq!(secret(&h), Some("arbs_x"));
        assert_eq!(cookie(&h, "c"), Some("3"));
        assert_eq!(cookie(&h, "arbiter"), None);
        let h = headers(&[(
            "cookie",
            "__Host-arbiter_session=arbs_s; arbiter_session=arbs_p",
        )]);
        assert_eq!(secret(&h), Some("arbs_s"));
    }

    #[test]
    fn https_is_recognised_from_proxies() {
        assert!(!is_https(&headers(&[])));
        assert!(is_https(&headers(&[("x-forwarded-proto", "https")])));
        assert!(is_https(&headers(&[(
            "forwarded",
            "for=1.2.3.4;proto=https;host=a"
        )])));
        assert!(!is_https(&headers(&[("forwarded", "proto=http")])));
        let c = set_cookie(true, COOKIE, COOKIE_SECURE, "v", 60);
        assert_eq!(
            c.to_str().ok(),
            Some("__Host-arbiter_session=v; Path=/; HttpOnly; SameSite=Strict; Max-Age=60; Secure")
        );
        let c = set_cookie(false, COOKIE, COOKIE_SECURE, "v", 0);
        assert_eq!(
            c.to_str().ok(),
            Some("arbiter_session=v; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
        );
    }

    #[test]
    fn only_same_origin_posts_pass() {
        let ok = headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:8080"),
        ]);
        assert_eq!(cross_origin(&ok), None);
        let evil = headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://evil.example"),
        ]);
        assert!(cross_origin(&evil).is_some_and(|m| m.contains("evil.example")));
        let null = headers(&[("host", "a"), ("origin", "null")]);
        assert!(cross_origin(&null).is_some());
        let referer = headers(&[("host", "a:1"), ("referer", "http://a:1/changes/3?x=1")]);
        assert_eq!(cross_origin(&referer), None);
        let bad_referer = headers(&[("host", "a:1"), ("referer", "http://a:1.evil/x")]);
        assert!(cross_origin(&bad_referer).is_some());
        let proxied = headers(&[
            ("host", "127.0.0.1:8080"),
            ("x-forwarded-host", "arbiter.example"),
            ("x-forwarded-proto", "https"),
            ("origin", "https://arbiter.example"),
        ]);
        assert_eq!(cross_origin(&proxied), None);
        assert_eq!(cross_origin(&headers(&[("host", "a")])), None);
    }

    #[test]
    fn csrf_tokens_are_per_session_and_compared_in_constant_time() {
        let a = csrf_token("arbs_a");
        assert_ne!(a, csrf_token("arbs_b"));
        assert_ne!(a, arbiter_store::sessions::secret_hash("arbs_a"));
        assert!(same_secret(&a, &csrf_token("arbs_a")));
        assert!(!same_secret(&a, &a[1..]));
    }
}
