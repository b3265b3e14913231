//! Password hashes for signing in to the web UI: Argon2id (19 MiB, 2
//! passes, 1 lane: the OWASP recommendation), 16-byte random salt, stored as
//! `argon2id$v=19$m=19456,t=2,p=1$SALT$HASH` (standard base64, no padding).

use base64::Engine;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD_NO_PAD;

/// Shortest password accepted.
pub const MIN_LENGTH: usize = 12;

/// Hashes a password with a fresh salt.
pub fn hash(password: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| format!("no randomness: {e}"))?;
    let mut out = [0u8; 32];
    argon2::Argon2::default()
        .hash_password_into(password.as_bytes(), &salt, &mut out)
        .map_err(|e| e.to_string())?;
    Ok(format!(
        "argon2id$v=19$m=19456,t=2,p=1${}${}",
        B64.encode(salt),
        B64.encode(out)
    ))
}

/// Whether a password matches a stored hash (constant-time comparison).
pub fn verify(password: &str, stored: &str) -> bool {
    let parts: Vec<&str> = stored.split('$').collect();
    let [alg, v, params, salt, expected] = parts.as_slice() else {
        return false;
    };
    if *alg != "argon2id" || *v != "v=19" || *params != "m=19456,t=2,p=1" {
        return false;
    }
    let (Ok(salt), Ok(expected)) = (B64.decode(salt), B64.decode(expected)) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    if argon2::Argon2::default()
        .hash_password_into(password.as_bytes(), &salt, &mut out)
        .is_err()
    {
        return false;
    }
    out.iter()
        .zip(&expected)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
        && out.len() == expected.len()
}

#[cfg(test)]
mod tests {
    #[test]
    fn hashes_verify_and_differ_by_salt() {
        let a = super::hash("correct horse battery").unwrap_or_default();
        let b = super::hash("correct horse battery").unwrap_or_default();
        assert_ne!(a, b);
        assert!(super::verify("correct horse battery", &a));
        assert!(!super::verify("correct horse batterx", &a));
        assert!(!super::verify("correct horse battery", "garbage"));
    }
}
