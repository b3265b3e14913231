//! Turning the bytes of a file into JSON text.
//!
//! `terraform show -json > plan.json` in Windows PowerShell writes UTF-16 with a
//! byte-order mark; some editors add a UTF-8 BOM. Everything is read here.

use crate::error::PlanError;
use std::borrow::Cow;

/// Decodes plan or state bytes into text: UTF-8 (with or without BOM) and
/// UTF-16 LE/BE with a BOM. Also recognises BOM-less UTF-16 (a NUL in every
/// other byte of the first characters). Never panics.
pub fn decode_text(bytes: &[u8]) -> Result<Cow<'_, str>, PlanError> {
    if bytes.is_empty() {
        return Err(PlanError::Empty);
    }
    if let Some(rest) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        return utf8(rest, 3);
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        return utf16(rest, u16::from_le_bytes).map(Cow::Owned);
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        return utf16(rest, u16::from_be_bytes).map(Cow::Owned);
    }
    // BOM-less UTF-16: JSON starts with an ASCII character, so one of each
    // pair of the first bytes is NUL.
    if bytes.len() >= 4 && bytes.len().is_multiple_of(2) {
        if bytes[1] == 0 && bytes[3] == 0 && bytes[0] != 0 {
            return utf16(bytes, u16::from_le_bytes).map(Cow::Owned);
        }
        if bytes[0] == 0 && bytes[2] == 0 && bytes[1] != 0 {
            return utf16(bytes, u16::from_be_bytes).map(Cow::Owned);
        }
    }
    utf8(bytes, 0)
}

fn utf8(bytes: &[u8], offset: usize) -> Result<Cow<'_, str>, PlanError> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(Cow::Borrowed(s)),
        Err(e) => {
            let at = e.valid_up_to();
            let (line, column) = line_col(&bytes[..at]);
            Err(PlanError::Encoding {
                message: format!(
                    "invalid UTF-8 at byte {} (line {line}, column {column}); is this a binary file? `terraform show -json` writes text",
                    at + offset
                ),
            })
        }
    }
}

fn utf16(bytes: &[u8], to_u16: fn([u8; 2]) -> u16) -> Result<String, PlanError> {
    if !bytes.len().is_multiple_of(2) {
        return Err(PlanError::Encoding {
            message: "UTF-16 file has an odd number of bytes (truncated?)".into(),
        });
    }
    let units = bytes.chunks_exact(2).map(|c| to_u16([c[0], c[1]]));
    let mut out = String::with_capacity(bytes.len() / 2);
    for (i, ch) in char::decode_utf16(units).enumerate() {
        match ch {
            Ok(c) => out.push(c),
            Err(_) => {
                return Err(PlanError::Encoding {
                    message: format!("invalid UTF-16 at code unit {i}: unpaired surrogate"),
                })
            }
        }
    }
    Ok(out)
}

/// 1-based line and column of the end of `prefix`.
pub(crate) fn line_col(prefix: &[u8]) -> (usize, usize) {
    let line = prefix.iter().filter(|&&b| b == b'\n').count() + 1;
    let column = match prefix.iter().rposition(|&b| b == b'\n') {
        Some(p) => prefix.len() - p,
        None => prefix.len() + 1,
    };
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_with_and_without_bom() -> Result<(), PlanError> {
        assert_eq!(decode_text(b"{}")?, "{}");
        assert_eq!(decode_text(b"\xEF\xBB\xBF{}")?, "{}");
        Ok(())
    }

    #[test]
    fn utf16_le_and_be() -> Result<(), PlanError> {
        let mut le = vec![0xFF, 0xFE];
        let mut be = vec![0xFE, 0xFF];
        let mut bare = vec![];
        for u in "{\"a\":\"é\"}".encode_utf16() {
            le.extend(u.to_le_bytes());
            be.extend(u.to_be_bytes());
            bare.extend(u.to_le_bytes());
        }
        assert_eq!(decode_text(&le)?, "{\"a\":\"é\"}");
        assert_eq!(decode_text(&be)?, "{\"a\":\"é\"}");
        assert_eq!(decode_text(&bare)?, "{\"a\":\"é\"}");
        Ok(())
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(matches!(decode_text(b""), Err(PlanError::Empty)));
        assert!(decode_text(&[0x7b, 0xff, 0xfe, 0x00, 0x01]).is_err());
        assert!(decode_text(&[0xff, 0xfe, 0x7b]).is_err());
        assert!(decode_text(&[0xff, 0xfe, 0x00, 0xd8, 0x7b, 0x00]).is_err());
    }
}
