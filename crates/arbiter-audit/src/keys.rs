//! The server's Ed25519 checkpoint key: generation, the private key file
//! (PKCS#8 PEM, RFC 8410 — the form `openssl genpkey -algorithm ed25519`
//! writes), and the public key document served at `/api/v1/audit/key`.

use crate::digest::Digest;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The only algorithm: Ed25519 (RFC 8032), pure, verified strictly.
pub const ALGORITHM: &str = "ed25519";

/// DER prefix of an RFC 8410 OneAsymmetricKey v1 holding an Ed25519 seed:
/// SEQUENCE { INTEGER 0, SEQUENCE { OID 1.3.101.112 }, OCTET STRING {
/// OCTET STRING (32 bytes) } }. The 32-byte seed follows.
const PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// Names a public key: lowercase hex SHA-256 of its 32 raw bytes.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KeyId(String);

impl KeyId {
    /// The id of a raw Ed25519 public key.
    pub fn of_public_key(bytes: &[u8; 32]) -> KeyId {
        KeyId(Digest::sha256(bytes).to_hex())
    }

    /// The id as text (64 lowercase hex digits).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// An id read from text as is (it may name no key); used when parsing.
    pub fn from_text(text: &str) -> KeyId {
        KeyId(text.to_string())
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({})", self.0)
    }
}

/// Problems with keys and key files.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The operating system gave no randomness.
    #[error("no randomness from the operating system: {0}")]
    Random(String),
    /// Not a PEM "PRIVATE KEY" block.
    #[error("not a PEM private key: {0}")]
    Pem(&'static str),
    /// The PEM body is not valid base64.
    #[error("PEM body is not base64: {0}")]
    Base64(String),
    /// A PKCS#8 key that is not an RFC 8410 v1 Ed25519 key.
    #[error("not an Ed25519 PKCS#8 key (expected the 48-byte RFC 8410 form that `openssl genpkey -algorithm ed25519` writes, got {0} bytes)")]
    NotEd25519(usize),
    /// The public key document is not valid JSON of the expected shape.
    #[error("public key document: {0}")]
    Document(String),
    /// The document's algorithm is not Ed25519.
    #[error("public key document: algorithm {0:?} is not supported (only \"ed25519\")")]
    Algorithm(String),
    /// The public key is not 32 bytes of base64, or not a valid curve point.
    #[error("public key document: public_key is not a valid Ed25519 key: {0}")]
    PublicKey(String),
    /// The key id does not match the key.
    #[error(
        "public key document: key_id {stated} does not match the public key (whose id is {actual})"
    )]
    KeyIdMismatch {
        /// The id the document states.
        stated: String,
        /// The id of its public key.
        actual: String,
    },
}

/// The server's private checkpoint key.
pub struct AuditSigningKey {
    key: ed25519_dalek::SigningKey,
    id: KeyId,
}

impl fmt::Debug for AuditSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the secret.
        write!(f, "AuditSigningKey({})", self.id)
    }
}

impl AuditSigningKey {
    /// A fresh key from the operating system's random generator.
    pub fn generate() -> Result<AuditSigningKey, KeyError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| KeyError::Random(e.to_string()))?;
        let key = AuditSigningKey::from_seed(&seed);
        seed.fill(0);
        Ok(key)
    }

    /// The key of a 32-byte Ed25519 seed (RFC 8032 private key).
    pub fn from_seed(seed: &[u8; 32]) -> AuditSigningKey {
        let key = ed25519_dalek::SigningKey::from_bytes(seed);
        let id = KeyId::of_public_key(key.verifying_key().as_bytes());
        AuditSigningKey { key, id }
    }

    /// Reads a PKCS#8 PEM file's text (`-----BEGIN PRIVATE KEY-----`).
    pub fn from_pkcs8_pem(pem: &str) -> Result<AuditSigningKey, KeyError> {
        let mut lines = pem.lines().map(str::trim).filter(|l| !l.is_empty());
        if lines.next() != Some("-----BEGIN PRIVATE KEY-----") {
            return Err(KeyError::Pem(
                "the first line must be -----BEGIN PRIVATE KEY-----",
            ));
        }
        let mut body = String::new();
        let mut ended = false;
        for line in lines.by_ref() {
            if line == "-----END PRIVATE KEY-----" {
                ended = true;
                break;
            }
            body.push_str(line);
        }
        if !ended {
            return Err(KeyError::Pem("no -----END PRIVATE KEY----- line"));
        }
        if lines.next().is_some() {
            return Err(KeyError::Pem("text after the END line"));
        }
        let mut der = base64::engine::general_purpose::STANDARD
            .decode(body.as_bytes())
            .map_err(|e| KeyError::Base64(e.to_string()))?;
        let result = if der.len() == 48 && der[..16] == PKCS8_PREFIX {
            let mut seed = [0u8; 32];
            seed.copy_from_slice(&der[16..]);
            let key = AuditSigningKey::from_seed(&seed);
            seed.fill(0);
            Ok(key)
        } else {
            Err(KeyError::NotEd25519(der.len()))
        };
        der.fill(0);
        result
    }

    /// The PKCS#8 PEM text of this key (write it with mode 0600).
    pub fn to_pkcs8_pem(&self) -> String {
        let mut der = Vec::with_capacity(48);
        der.extend_from_slice(&PKCS8_PREFIX);
        der.extend_from_slice(self.key.as_bytes());
        let b64 = base64::engine::general_purpose::STANDARD.encode(&der);
        der.fill(0);
        format!("-----BEGIN PRIVATE KEY-----\n{b64}\n-----END PRIVATE KEY-----\n")
    }

    /// This key's id.
    pub fn key_id(&self) -> &KeyId {
        &self.id
    }

    /// The matching public key.
    pub fn public_key(&self) -> AuditPublicKey {
        AuditPublicKey {
            key: self.key.verifying_key(),
            id: self.id.clone(),
        }
    }

    /// Ed25519 signature of `message`.
    pub(crate) fn sign(&self, message: &[u8]) -> ed25519_dalek::Signature {
        use ed25519_dalek::Signer as _;
        self.key.sign(message)
    }
}

/// A public checkpoint key.
#[derive(Clone, PartialEq, Eq)]
pub struct AuditPublicKey {
    key: ed25519_dalek::VerifyingKey,
    id: KeyId,
}

impl fmt::Debug for AuditPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuditPublicKey({})", self.id)
    }
}

/// The public key as JSON: what `GET /api/v1/audit/key` returns, what an
/// export's header lists and what `arbiter audit verify --key` reads.
///
/// ```json
/// {"algorithm":"ed25519","key_id":"<64 hex>","public_key":"<base64 of 32 bytes>"}
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicKeyDocument {
    /// Always `"ed25519"`.
    pub algorithm: String,
    /// [`KeyId`] of the key.
    pub key_id: String,
    /// The 32-byte public key, standard base64 with padding.
    pub public_key: String,
}

impl AuditPublicKey {
    /// A key from its 32 raw bytes; fails for bytes that are not a curve point.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<AuditPublicKey, KeyError> {
        let key = ed25519_dalek::VerifyingKey::from_bytes(bytes)
            .map_err(|e| KeyError::PublicKey(e.to_string()))?;
        Ok(AuditPublicKey {
            key,
            id: KeyId::of_public_key(bytes),
        })
    }

    /// This key's id.
    pub fn key_id(&self) -> &KeyId {
        &self.id
    }

    /// The 32 raw bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// The JSON document form.
    pub fn to_document(&self) -> PublicKeyDocument {
        PublicKeyDocument {
            algorithm: ALGORITHM.to_string(),
            key_id: self.id.to_string(),
            public_key: base64::engine::general_purpose::STANDARD.encode(self.key.as_bytes()),
        }
    }

    /// A key from its document; checks the algorithm, the key and that the
    /// id matches it.
    pub fn from_document(doc: &PublicKeyDocument) -> Result<AuditPublicKey, KeyError> {
        if doc.algorithm != ALGORITHM {
            return Err(KeyError::Algorithm(doc.algorithm.clone()));
        }
        let raw = base64::engine::general_purpose::STANDARD
            .decode(doc.public_key.as_bytes())
            .map_err(|e| KeyError::PublicKey(format!("not base64: {e}")))?;
        let bytes: [u8; 32] = raw
            .as_slice()
            .try_into()
            .map_err(|_| KeyError::PublicKey(format!("{} bytes instead of 32", raw.len())))?;
        let key = AuditPublicKey::from_bytes(&bytes)?;
        if key.id.as_str() != doc.key_id {
            return Err(KeyError::KeyIdMismatch {
                stated: doc.key_id.clone(),
                actual: key.id.to_string(),
            });
        }
        Ok(key)
    }

    /// A key from the text of its JSON document.
    pub fn from_json(text: &str) -> Result<AuditPublicKey, KeyError> {
        let doc: PublicKeyDocument =
            serde_json::from_str(text).map_err(|e| KeyError::Document(e.to_string()))?;
        AuditPublicKey::from_document(&doc)
    }

    /// The document as one line of JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.to_document()).unwrap_or_default()
    }

    /// Strict Ed25519 verification (rejects non-canonical signatures and
    /// small-order keys).
    pub(crate) fn verify(&self, message: &[u8], sig: &ed25519_dalek::Signature) -> bool {
        self.key.verify_strict(message, sig).is_ok()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn pem_round_trip_and_document() {
        let k = AuditSigningKey::generate().unwrap();
        let pem = k.to_pkcs8_pem();
        let back = AuditSigningKey::from_pkcs8_pem(&pem).unwrap();
        assert_eq!(back.key_id(), k.key_id());
        let doc = k.public_key().to_json();
        let pk = AuditPublicKey::from_json(&doc).unwrap();
        assert_eq!(pk, k.public_key());
    }

    /// RFC 8410 §10.3 example private key, and RFC 8032 test 1's seed→key.
    #[test]
    fn reads_rfc8410_example() {
        let pem = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n-----END PRIVATE KEY-----\n";
        let k = AuditSigningKey::from_pkcs8_pem(pem).unwrap();
        // The RFC's matching public key (§10.1): 19bf44096984cdfe8541bac167dc3b96c85086aa30b6b6cb0c5c38ad703166e1
        assert_eq!(
            k.public_key().to_bytes(),
            Digest::from_hex("19bf44096984cdfe8541bac167dc3b96c85086aa30b6b6cb0c5c38ad703166e1")
                .unwrap()
                .0
        );
        let seed =
            Digest::from_hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
                .unwrap();
        assert_eq!(
            AuditSigningKey::from_seed(&seed.0).public_key().to_bytes(),
            Digest::from_hex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
                .unwrap()
                .0
        );
    }

    #[test]
    fn rejects_bad_keys() {
        assert!(matches!(
            AuditSigningKey::from_pkcs8_pem("hello"),
            Err(KeyError::Pem(_))
        ));
        let rsa_like = "-----BEGIN PRIVATE KEY-----\nMIIBVQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----";
        assert!(matches!(
            AuditSigningKey::from_pkcs8_pem(rsa_like),
            Err(KeyError::NotEd25519(_))
        ));
        let k = AuditSigningKey::generate().unwrap().public_key();
        let mut doc = k.to_document();
        doc.key_id = "00".repeat(32);
        assert!(matches!(
            AuditPublicKey::from_document(&doc),
            Err(KeyError::KeyIdMismatch { .. })
        ));
        let mut doc = k.to_document();
        doc.algorithm = "rsa".into();
        assert!(matches!(
            AuditPublicKey::from_document(&doc),
            Err(KeyError::Algorithm(_))
        ));
        assert!(matches!(
            AuditPublicKey::from_json("{\"algorithm\":\"ed25519\"}"),
            Err(KeyError::Document(_))
        ));
    }
}
