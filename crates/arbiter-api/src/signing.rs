//! How an agent signs a request, and how the server checks it.
//!
//! Scheme `ARBITER-SIG-V1` (see docs/signing.md for the full description and
//! a worked example). The agent builds the *string to sign*, seven lines
//! joined by `\n` with no trailing newline:
//!
//! ```text
//! ARBITER-SIG-V1
//! POST                          (HTTP method, upper case)
//! /api/v1/change-requests       (path and query exactly as sent)
//! 3f1c…                         (key ID: hex of the first 16 bytes of SHA-256(raw public key))
//! 1764601200                    (timestamp: Unix seconds)
//! 9b2f0c6e1d…                   (nonce: 16–128 characters of [A-Za-z0-9_-], never reused)
//! e3b0c442…                     (hex SHA-256 of the exact body bytes)
//! ```
//!
//! and signs its UTF-8 bytes with Ed25519 (RFC 8032, pure). The request then
//! carries five headers: `X-Arbiter-Key-Id`, `X-Arbiter-Timestamp`,
//! `X-Arbiter-Nonce`, `X-Arbiter-Content-SHA256` (the last line of the
//! string to sign: hex SHA-256 of the body) and `X-Arbiter-Signature`
//! (standard base64 of the 64 signature bytes). Since every signed value is
//! in a header, the server verifies the signature before it reads the body,
//! then streams the body against the signed digest. Requests without
//! `X-Arbiter-Content-SHA256` (the first form of the scheme) are still
//! accepted for a deprecation period; their signature can only be checked
//! once the whole body has arrived. The server refuses, each with its own error code: a
//! missing or malformed header, an unknown key, a revoked key, a timestamp
//! more than [`MAX_CLOCK_SKEW_SECS`] away from its clock, a nonce already
//! seen for that key, and a signature that does not verify.
//!
//! Keys are stored in standard PEM: PKCS#8 `PRIVATE KEY` and SPKI
//! `PUBLIC KEY`, the forms `openssl genpkey -algorithm ed25519` writes.

use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use thiserror::Error;

/// Name of the scheme; the first line of every string to sign.
pub const SCHEME: &str = "ARBITER-SIG-V1";
/// Header carrying the key ID.
pub const HEADER_KEY_ID: &str = "x-arbiter-key-id";
/// Header carrying the Unix timestamp in seconds.
pub const HEADER_TIMESTAMP: &str = "x-arbiter-timestamp";
/// Header carrying the nonce.
pub const HEADER_NONCE: &str = "x-arbiter-nonce";
/// Header carrying the base64 signature.
pub const HEADER_SIGNATURE: &str = "x-arbiter-signature";
/// Header carrying the hex SHA-256 of the body (signed: it is the last line
/// of the string to sign).
pub const HEADER_CONTENT_SHA256: &str = "x-arbiter-content-sha256";
/// How far a request's timestamp may be from the server's clock.
pub const MAX_CLOCK_SKEW_SECS: i64 = 300;

const PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];
const SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// Why a key could not be read or a signature could not be checked. Each
/// variant is a distinct refusal with its own stable code.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum SigningError {
    /// A signature header is absent.
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    /// A signature header is present but malformed.
    #[error("malformed header {header}: {why}")]
    MalformedHeader {
        /// The header.
        header: &'static str,
        /// What is wrong with it.
        why: String,
    },
    /// The timestamp is too far from the verifier's clock.
    #[error("timestamp {timestamp} is {skew} s away from the server's clock (at most {MAX_CLOCK_SKEW_SECS} s allowed)")]
    ClockSkew {
        /// The request's timestamp.
        timestamp: i64,
        /// Its distance from now, seconds.
        skew: u64,
    },
    /// The signature does not verify with the key.
    #[error("the signature does not verify for key {0} (wrong key, or the method, path, body, timestamp or nonce differ from what was signed)")]
    BadSignature(String),
    /// The body's SHA-256 is not the signed `X-Arbiter-Content-SHA256`.
    #[error("the body is not the one signed with key {0}: its SHA-256 differs from X-Arbiter-Content-SHA256")]
    ContentMismatch(String),
    /// A key file or value could not be read.
    #[error("{0}")]
    BadKey(String),
}

impl SigningError {
    /// Stable machine-readable code (`missing_signature`, `clock_skew`, …).
    pub fn code(&self) -> crate::ErrorCode {
        use crate::ErrorCode;
        match self {
            SigningError::MissingHeader(_) => ErrorCode::MissingSignature,
            SigningError::MalformedHeader { .. } => ErrorCode::MalformedSignature,
            SigningError::ClockSkew { .. } => ErrorCode::TimestampOutOfRange,
            SigningError::BadSignature(_) => ErrorCode::BadSignature,
            SigningError::ContentMismatch(_) => ErrorCode::ContentDigestMismatch,
            SigningError::BadKey(_) => ErrorCode::BadKey,
        }
    }
}

/// Hex SHA-256 of bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The string an agent signs (see the module docs).
pub fn string_to_sign(
    method: &str,
    path_and_query: &str,
    key_id: &str,
    timestamp: i64,
    nonce: &str,
    body: &[u8],
) -> String {
    string_to_sign_digest(
        method,
        path_and_query,
        key_id,
        timestamp,
        nonce,
        &sha256_hex(body),
    )
}

/// The string to sign given the body's hex SHA-256 rather than the body.
pub fn string_to_sign_digest(
    method: &str,
    path_and_query: &str,
    key_id: &str,
    timestamp: i64,
    nonce: &str,
    body_sha256: &str,
) -> String {
    format!(
        "{SCHEME}\n{}\n{path_and_query}\n{key_id}\n{timestamp}\n{nonce}\n{body_sha256}",
        method.to_ascii_uppercase(),
    )
}

/// The signature headers of a request, as strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHeaders {
    /// `X-Arbiter-Key-Id`.
    pub key_id: String,
    /// `X-Arbiter-Timestamp` (Unix seconds).
    pub timestamp: i64,
    /// `X-Arbiter-Nonce`.
    pub nonce: String,
    /// `X-Arbiter-Signature` (base64).
    pub signature: String,
    /// `X-Arbiter-Content-SHA256` (lowercase hex); `None` in the first,
    /// deprecated form of the scheme.
    pub content_sha256: Option<String>,
}

impl SignatureHeaders {
    /// Reads the headers through a lookup function (header name in lower
    /// case → value), checking their form but not the signature.
    pub fn from_lookup<'a>(
        get: impl Fn(&'static str) -> Option<&'a str>,
    ) -> Result<SignatureHeaders, SigningError> {
        let need = |h: &'static str| get(h).ok_or(SigningError::MissingHeader(h));
        let key_id = need(HEADER_KEY_ID)?.trim().to_string();
        if key_id.is_empty() || key_id.len() > 128 {
            return Err(SigningError::MalformedHeader {
                header: HEADER_KEY_ID,
                why: "must be 1 to 128 characters".into(),
            });
        }
        let ts = need(HEADER_TIMESTAMP)?.trim();
        let timestamp = ts
            .parse::<i64>()
            .map_err(|_| SigningError::MalformedHeader {
                header: HEADER_TIMESTAMP,
                why: format!("{ts:?} is not Unix seconds"),
            })?;
        let nonce = need(HEADER_NONCE)?.trim().to_string();
        check_nonce(&nonce)?;
        let signature = need(HEADER_SIGNATURE)?.trim().to_string();
        let content_sha256 = match get(HEADER_CONTENT_SHA256) {
            None => None,
            Some(d) => {
                let d = d.trim();
                let ok = d.len() == 64
                    && d.bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
                if !ok {
                    return Err(SigningError::MalformedHeader {
                        header: HEADER_CONTENT_SHA256,
                        why: "must be the 64 lowercase hex characters of the body's SHA-256".into(),
                    });
                }
                Some(d.to_string())
            }
        };
        Ok(SignatureHeaders {
            key_id,
            timestamp,
            nonce,
            signature,
            content_sha256,
        })
    }

    /// The headers to send, as (lower-case name, value) pairs.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut v = vec![
            (HEADER_KEY_ID, self.key_id.clone()),
            (HEADER_TIMESTAMP, self.timestamp.to_string()),
            (HEADER_NONCE, self.nonce.clone()),
            (HEADER_SIGNATURE, self.signature.clone()),
        ];
        if let Some(d) = &self.content_sha256 {
            v.push((HEADER_CONTENT_SHA256, d.clone()));
        }
        v
    }

    /// Checks the timestamp against `now` (Unix seconds). The distance is
    /// taken without overflow (`abs_diff`), so no timestamp, however far
    /// out, can wrap into the window.
    pub fn check_clock(&self, now: i64) -> Result<(), SigningError> {
        let skew = now.abs_diff(self.timestamp);
        if skew > MAX_CLOCK_SKEW_SECS.unsigned_abs() {
            return Err(SigningError::ClockSkew {
                timestamp: self.timestamp,
                skew,
            });
        }
        Ok(())
    }

    /// Verifies the signature over the request with the given public key.
    /// With `X-Arbiter-Content-SHA256`, the body must also have that digest.
    pub fn verify(
        &self,
        key: &PublicKey,
        method: &str,
        path_and_query: &str,
        body: &[u8],
    ) -> Result<(), SigningError> {
        let digest = sha256_hex(body);
        if let Some(signed) = &self.content_sha256 {
            self.verify_digest(key, method, path_and_query, signed)?;
            if *signed != digest {
                return Err(SigningError::ContentMismatch(self.key_id.clone()));
            }
            return Ok(());
        }
        self.verify_digest(key, method, path_and_query, &digest)
    }

    /// Verifies the signature given the body's hex SHA-256: from the
    /// headers alone when that is `X-Arbiter-Content-SHA256` (the caller
    /// then checks that the body has this digest).
    pub fn verify_digest(
        &self,
        key: &PublicKey,
        method: &str,
        path_and_query: &str,
        body_sha256: &str,
    ) -> Result<(), SigningError> {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(self.signature.as_bytes())
            .map_err(|e| SigningError::MalformedHeader {
                header: HEADER_SIGNATURE,
                why: format!("not base64: {e}"),
            })?;
        let bytes: [u8; 64] =
            raw.as_slice()
                .try_into()
                .map_err(|_| SigningError::MalformedHeader {
                    header: HEADER_SIGNATURE,
                    why: format!("{} bytes, an Ed25519 signature has 64", raw.len()),
                })?;
        let sig = Signature::from_bytes(&bytes);
        let msg = string_to_sign_digest(
            method,
            path_and_query,
            &self.key_id,
            self.timestamp,
            &self.nonce,
            body_sha256,
        );
        key.0
            .verify_strict(msg.as_bytes(), &sig)
            .map_err(|_| SigningError::BadSignature(self.key_id.clone()))
    }
}

fn check_nonce(nonce: &str) -> Result<(), SigningError> {
    let ok_len = (16..=128).contains(&nonce.len());
    let ok_chars = nonce
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !ok_len || !ok_chars {
        return Err(SigningError::MalformedHeader {
            header: HEADER_NONCE,
            why: "must be 16 to 128 characters of A-Z a-z 0-9 - _".into(),
        });
    }
    Ok(())
}

/// An Ed25519 public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// Reads a public key from SPKI PEM (`-----BEGIN PUBLIC KEY-----`), or
    /// from the standard base64 of its 32 raw bytes.
    pub fn parse(text: &str) -> Result<PublicKey, SigningError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(SigningError::BadKey("the public key is empty".into()));
        }
        let raw: Vec<u8> = if text.starts_with("-----BEGIN") {
            let der = pem_body(text, "PUBLIC KEY")?;
            der.strip_prefix(&SPKI_PREFIX[..])
                .ok_or_else(|| {
                    SigningError::BadKey("the PEM public key is not an Ed25519 SPKI key".into())
                })?
                .to_vec()
        } else {
            base64::engine::general_purpose::STANDARD
                .decode(text.as_bytes())
                .map_err(|e| {
                    SigningError::BadKey(format!("public key is neither PEM nor base64: {e}"))
                })?
        };
        let bytes: [u8; 32] = raw.as_slice().try_into().map_err(|_| {
            SigningError::BadKey(format!(
                "an Ed25519 public key has 32 bytes, this one {}",
                raw.len()
            ))
        })?;
        VerifyingKey::from_bytes(&bytes)
            .map(PublicKey)
            .map_err(|_| SigningError::BadKey("not a valid Ed25519 public key".into()))
    }

    /// The key ID: hex of the first 16 bytes of SHA-256 of the raw key.
    pub fn key_id(&self) -> String {
        hex::encode(&Sha256::digest(self.0.as_bytes())[..16])
    }

    /// Standard base64 of the 32 raw bytes.
    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.0.as_bytes())
    }

    /// SPKI PEM.
    pub fn to_pem(&self) -> String {
        let mut der = SPKI_PREFIX.to_vec();
        der.extend_from_slice(self.0.as_bytes());
        pem("PUBLIC KEY", &der)
    }
}

/// An agent's private key, able to sign requests.
#[derive(Clone)]
pub struct AgentKey(SigningKey);

impl std::fmt::Debug for AgentKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AgentKey({})", self.public().key_id())
    }
}

impl AgentKey {
    /// A new random key from the operating system's generator.
    pub fn generate() -> Result<AgentKey, SigningError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed)
            .map_err(|e| SigningError::BadKey(format!("no randomness available: {e}")))?;
        Ok(AgentKey(SigningKey::from_bytes(&seed)))
    }

    /// A key from its 32-byte seed (tests and vectors).
    pub fn from_seed(seed: [u8; 32]) -> AgentKey {
        AgentKey(SigningKey::from_bytes(&seed))
    }

    /// Reads a PKCS#8 PEM private key (`-----BEGIN PRIVATE KEY-----`).
    pub fn parse(text: &str) -> Result<AgentKey, SigningError> {
        let der = pem_body(text.trim(), "PRIVATE KEY")?;
        let seed = der.strip_prefix(&PKCS8_PREFIX[..]).ok_or_else(|| {
            SigningError::BadKey("the PEM private key is not an Ed25519 PKCS#8 key".into())
        })?;
        let seed: [u8; 32] = seed.try_into().map_err(|_| {
            SigningError::BadKey("an Ed25519 PKCS#8 key holds a 32-byte seed".into())
        })?;
        Ok(AgentKey::from_seed(seed))
    }

    /// PKCS#8 PEM of the private key.
    pub fn to_pem(&self) -> String {
        let mut der = PKCS8_PREFIX.to_vec();
        der.extend_from_slice(&self.0.to_bytes());
        pem("PRIVATE KEY", &der)
    }

    /// The matching public key.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// Signs a request: returns the header values (send them all, e.g.
    /// with [`SignatureHeaders::pairs`]).
    pub fn sign_request(
        &self,
        method: &str,
        path_and_query: &str,
        timestamp: i64,
        nonce: &str,
        body: &[u8],
    ) -> SignatureHeaders {
        let key_id = self.public().key_id();
        let digest = sha256_hex(body);
        let msg = string_to_sign_digest(method, path_and_query, &key_id, timestamp, nonce, &digest);
        let sig = self.0.sign(msg.as_bytes());
        SignatureHeaders {
            key_id,
            timestamp,
            nonce: nonce.to_string(),
            signature: base64::engine::general_purpose::STANDARD.encode(sig.to_bytes()),
            content_sha256: Some(digest),
        }
    }
}

/// A fresh random nonce (32 hex characters).
pub fn new_nonce() -> Result<String, SigningError> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b)
        .map_err(|e| SigningError::BadKey(format!("no randomness available: {e}")))?;
    Ok(hex::encode(b))
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn pem_body(text: &str, label: &str) -> Result<Vec<u8>, SigningError> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text
        .find(&begin)
        .ok_or_else(|| SigningError::BadKey(format!("expected a PEM block `{begin}`")))?;
    let rest = &text[start + begin.len()..];
    let stop = rest
        .find(&end)
        .ok_or_else(|| SigningError::BadKey(format!("the PEM block has no `{end}` line")))?;
    let b64: String = rest[..stop].split_whitespace().collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64.as_bytes())
        .map_err(|e| SigningError::BadKey(format!("the PEM block is not valid base64: {e}")))
}

#[cfg(test)]
#[allow(clippy::panic, clippy::unwrap_used)]
mod tests {
    use super::*;

    fn key() -> AgentKey {
        AgentKey::from_seed([7u8; 32])
    }

    #[test]
    fn a_signed_request_verifies_and_any_change_breaks_it() {
        let k = key();
        let body = br#"{"stack":"web"}"#;
        let h = k.sign_request(
            "post",
            "/api/v1/change-requests",
            1_700_000_000,
            "abcdefghijklmnop",
            body,
        );
        let pk = k.public();
        assert_eq!(
            h.verify(&pk, "POST", "/api/v1/change-requests", body),
            Ok(())
        );
        for (m, p, b) in [
            ("PUT", "/api/v1/change-requests", &body[..]),
            ("POST", "/api/v1/change-requests?x=1", &body[..]),
            ("POST", "/api/v1/change-requests", br#"{"stack":"web2"}"#),
        ] {
            // (A different body is caught by the signed digest.)
            assert!(matches!(
                h.verify(&pk, m, p, b),
                Err(SigningError::BadSignature(_) | SigningError::ContentMismatch(_))
            ));
        }
        let mut later = h.clone();
        later.timestamp += 1;
        assert!(later
            .verify(&pk, "POST", "/api/v1/change-requests", body)
            .is_err());
        let other = AgentKey::from_seed([8u8; 32]).public();
        assert!(h
            .verify(&other, "POST", "/api/v1/change-requests", body)
            .is_err());
    }

    /// The worked example of docs/signing.md; the values were computed
    /// independently with Python's `cryptography` package.
    #[test]
    fn the_documented_worked_example_holds() -> Result<(), SigningError> {
        let k = key();
        assert_eq!(
            k.public().to_base64(),
            "6kpsY+KcUgq+9VB7Ey7F+ZVHdq6+vnuSQh7qaRRG0iw="
        );
        assert_eq!(k.public().key_id(), "fe812c12f3ab4ce6ac5db69ac352f906");
        let body = br#"{"stack":"web","plan":{"format_version":"1.2"}}"#;
        let nonce = "0123456789abcdef0123456789abcdef";
        assert_eq!(
            string_to_sign("POST", "/api/v1/change-requests", &k.public().key_id(), 1764601200, nonce, body),
            "ARBITER-SIG-V1\nPOST\n/api/v1/change-requests\nfe812c12f3ab4ce6ac5db69ac352f906\n1764601200\n\
             0123456789abcdef0123456789abcdef\ncbc2dcf56d0e2106cf36c8fa8af387f12c9b256c4ffbbea65e18be0b764d1fc0"
        );
        let h = k.sign_request("POST", "/api/v1/change-requests", 1764601200, nonce, body);
        assert_eq!(
            h.signature,
            "GceFQiHCHt3mY+gGbwa+f96NTVJaMiDdKvjocOdJp9qxVRx/ijgwXw5GTqHb3BYKkTOZHrKsIvjq0fEcb3q9AA=="
        );
        assert_eq!(
            h.content_sha256.as_deref(),
            Some("cbc2dcf56d0e2106cf36c8fa8af387f12c9b256c4ffbbea65e18be0b764d1fc0")
        );
        // The digest header is signed (it is the string's last line), so the
        // signature verifies from the headers alone, before the body.
        assert_eq!(
            h.verify_digest(
                &k.public(),
                "POST",
                "/api/v1/change-requests",
                "cbc2dcf56d0e2106cf36c8fa8af387f12c9b256c4ffbbea65e18be0b764d1fc0"
            ),
            Ok(())
        );
        assert_eq!(
            k.to_pem(),
            "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIAcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcH\n-----END PRIVATE KEY-----\n"
        );
        assert_eq!(
            k.public().to_pem(),
            "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA6kpsY+KcUgq+9VB7Ey7F+ZVHdq6+vnuSQh7qaRRG0iw=\n-----END PUBLIC KEY-----\n"
        );
        Ok(())
    }

    #[test]
    fn pem_round_trips_and_matches_openssl_layout() -> Result<(), SigningError> {
        let k = key();
        let pem = k.to_pem();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI"));
        let back = AgentKey::parse(&pem)?;
        assert_eq!(back.public(), k.public());
        let pubpem = k.public().to_pem();
        assert!(pubpem.starts_with("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA"));
        assert_eq!(PublicKey::parse(&pubpem)?, k.public());
        assert_eq!(PublicKey::parse(&k.public().to_base64())?, k.public());
        assert_eq!(k.public().key_id().len(), 32);
        Ok(())
    }

    #[test]
    fn headers_are_checked_for_form_and_clock() {
        let ok = |h: &'static str| match h {
            HEADER_KEY_ID => Some("k"),
            HEADER_TIMESTAMP => Some("100"),
            HEADER_NONCE => Some("0123456789abcdef"),
            HEADER_CONTENT_SHA256 => None,
            _ => Some("sig"),
        };
        let h = SignatureHeaders::from_lookup(ok);
        assert!(h.is_ok());
        let missing =
            SignatureHeaders::from_lookup(|h| if h == HEADER_NONCE { None } else { ok(h) });
        assert_eq!(
            missing.map(|_| ()),
            Err(SigningError::MissingHeader(HEADER_NONCE))
        );
        let short = SignatureHeaders::from_lookup(|h| {
            if h == HEADER_NONCE {
                Some("abc")
            } else {
                ok(h)
            }
        });
        assert_eq!(
            short.map_err(|e| e.code().as_str()).map(|_| ()),
            Err("malformed_signature")
        );
        let bad_ts = SignatureHeaders::from_lookup(|h| {
            if h == HEADER_TIMESTAMP {
                Some("soon")
            } else {
                ok(h)
            }
        });
        assert!(bad_ts.is_err());
        if let Ok(h) = SignatureHeaders::from_lookup(ok) {
            assert!(h.check_clock(100 + MAX_CLOCK_SKEW_SECS).is_ok());
            assert_eq!(
                h.check_clock(101 + MAX_CLOCK_SKEW_SECS)
                    .map_err(|e| e.code().as_str()),
                Err("timestamp_out_of_range")
            );
            assert!(h.check_clock(100 - MAX_CLOCK_SKEW_SECS - 1).is_err());
        }
    }

    #[test]
    fn the_content_digest_header_is_signed_and_checked_against_the_body() {
        let k = key();
        let pk = k.public();
        let body = br#"{"stack":"web"}"#;
        let path = "/api/v1/change-requests";
        let h = k.sign_request("POST", path, 1_700_000_000, "abcdefghijklmnop", body);
        assert_eq!(h.content_sha256, Some(sha256_hex(body)));
        assert_eq!(h.verify(&pk, "POST", path, body), Ok(()));
        // Another body under the signed digest: refused with its own code.
        assert_eq!(
            h.verify(&pk, "POST", path, b"{}")
                .map_err(|e| e.code().as_str()),
            Err("content_digest_mismatch")
        );
        // Another digest in the header: the signature no longer verifies.
        let mut forged = h.clone();
        forged.content_sha256 = Some(sha256_hex(b"{}"));
        assert!(matches!(
            forged.verify(&pk, "POST", path, b"{}"),
            Err(SigningError::BadSignature(_))
        ));
        // The first form (no digest header) still verifies over the body.
        let mut legacy = h.clone();
        legacy.content_sha256 = None;
        assert_eq!(legacy.verify(&pk, "POST", path, body), Ok(()));
        assert!(legacy.verify(&pk, "POST", path, b"{}").is_err());
        // The header is read, and its form checked.
        let pairs = h.pairs();
        let get = |name: &'static str| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(SignatureHeaders::from_lookup(get), Ok(h.clone()));
        for bad in ["abc", &"A".repeat(64), &"g".repeat(64)] {
            let r = SignatureHeaders::from_lookup(|n| {
                if n == HEADER_CONTENT_SHA256 {
                    Some(bad)
                } else {
                    get(n)
                }
            });
            assert_eq!(
                r.map_err(|e| e.code().as_str()).map(|_| ()),
                Err("malformed_signature")
            );
        }
    }

    /// Timestamps at the ends of i64 must be refused, never wrap (the
    /// distance `now - ts` overflows for them) nor panic.
    #[test]
    fn extreme_timestamps_are_refused_without_overflow() {
        let now: i64 = 1_764_601_200;
        let at = |ts: i64| SignatureHeaders {
            key_id: "k".into(),
            timestamp: ts,
            nonce: "0123456789abcdef".into(),
            signature: String::new(),
            content_sha256: None,
        };
        let w = MAX_CLOCK_SKEW_SECS;
        for ts in [
            i64::MIN,
            i64::MIN + 1,
            i64::MIN + now,
            i64::MIN + now - 1,
            i64::MIN + now + 1,
            i64::MAX,
            i64::MAX - now,
            -now,
            0,
            now - w - 1,
            now + w + 1,
        ] {
            assert_eq!(
                at(ts).check_clock(now).map_err(|e| e.code().as_str()),
                Err("timestamp_out_of_range"),
                "timestamp {ts}"
            );
        }
        for ts in [now, now - w, now + w, now - 1, now + 1] {
            assert_eq!(at(ts).check_clock(now), Ok(()), "timestamp {ts}");
        }
        // The server's own clock at the extremes does not overflow either.
        assert!(at(0).check_clock(i64::MIN).is_err());
        assert!(at(i64::MIN).check_clock(i64::MAX).is_err());
        assert!(at(i64::MAX).check_clock(i64::MAX).is_ok());
        match at(i64::MIN).check_clock(now) {
            Err(SigningError::ClockSkew { skew, .. }) => {
                assert_eq!(skew.to_string(), now.abs_diff(i64::MIN).to_string())
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_keys_are_explained() {
        for (text, want) in [
            ("", "empty"),
            ("not base64!", "neither PEM nor base64"),
            ("AAAA", "32 bytes"),
            ("-----BEGIN PUBLIC KEY-----\nAAAA\n", "no `-----END"),
            ("-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\n-----END PUBLIC KEY-----", "not an Ed25519"),
        ] {
            match PublicKey::parse(text) {
                Err(SigningError::BadKey(m)) => assert!(m.contains(want), "{text:?}: {m}"),
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }
}
