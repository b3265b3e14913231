//! SHA-256 digests as a value type, written as 64 lowercase hex digits.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::Digest as _;
use std::fmt;

/// A SHA-256 digest (entry hash, payload digest, Merkle node).
///
/// Its text form is exactly 64 lowercase hex digits; parsing rejects anything
/// else (upper case included), so every digest has one spelling in an export.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Digest(pub [u8; 32]);

/// Why a text is not a digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestParseError {
    /// Not 64 characters long.
    #[error("a digest is 64 lowercase hex digits, got {0} characters")]
    Length(usize),
    /// A character outside `0-9a-f`.
    #[error("a digest is 64 lowercase hex digits, found {found:?} at position {position}")]
    Character {
        /// The offending character.
        found: char,
        /// Its 0-based position in the text.
        position: usize,
    },
}

impl Digest {
    /// All zero bytes: the `prev_hash` of entry 1 (the genesis link).
    pub const ZERO: Digest = Digest([0; 32]);

    /// SHA-256 of `data`.
    pub fn sha256(data: &[u8]) -> Digest {
        Digest(sha2::Sha256::digest(data).into())
    }

    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut s = String::with_capacity(64);
        for b in self.0 {
            s.push(HEX[(b >> 4) as usize] as char);
            s.push(HEX[(b & 15) as usize] as char);
        }
        s
    }

    /// Parses exactly 64 lowercase hex digits.
    pub fn from_hex(text: &str) -> Result<Digest, DigestParseError> {
        let bytes = text.as_bytes();
        if bytes.len() != 64 {
            return Err(DigestParseError::Length(text.chars().count()));
        }
        let mut out = [0u8; 32];
        for (i, pair) in bytes.chunks_exact(2).enumerate() {
            let hi = nibble(pair[0]).ok_or_else(|| bad_char(text, 2 * i))?;
            let lo = nibble(pair[1]).ok_or_else(|| bad_char(text, 2 * i + 1))?;
            out[i] = (hi << 4) | lo;
        }
        Ok(Digest(out))
    }
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

fn bad_char(text: &str, byte_pos: usize) -> DigestParseError {
    // The text is 64 bytes but may hold multi-byte characters: report the
    // character that covers the offending byte.
    let (position, found) = text
        .char_indices()
        .enumerate()
        .take_while(|(_, (b, _))| *b <= byte_pos)
        .last()
        .map(|(i, (_, c))| (i, c))
        .unwrap_or((0, '?'));
    DigestParseError::Character { found, position }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.to_hex())
    }
}

impl std::str::FromStr for Digest {
    type Err = DigestParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Digest::from_hex(s)
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Digest::from_hex(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn sha256_of_empty_input() {
        assert_eq!(
            Digest::sha256(b"").to_hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn hex_round_trip_and_strictness() {
        let d = Digest::sha256(b"abc");
        assert_eq!(Digest::from_hex(&d.to_hex()).unwrap(), d);
        assert_eq!(
            Digest::from_hex(&d.to_hex().to_uppercase()),
            Err(DigestParseError::Character {
                found: 'B',
                position: 0
            })
        );
        assert_eq!(Digest::from_hex("ab"), Err(DigestParseError::Length(2)));
        let with_multibyte = format!("{}é", &"0".repeat(62));
        assert!(matches!(
            Digest::from_hex(&with_multibyte),
            Err(DigestParseError::Character {
                found: 'é',
                position: 62
            })
        ));
    }
}
