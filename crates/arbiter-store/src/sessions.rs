//! Web UI sessions: a random secret in a cookie, its SHA-256 in the
//! database, an expiry, and (for sessions opened with an API token) the
//! token, whose revocation or expiry ends the session too.

use crate::principals::UserRow;
use crate::{Result, StoreError, WriteCtx};
use arbiter_api::Timestamp;
use sha2::{Digest, Sha256};
use sqlx::{AnyPool, Row};

/// Prefix of every session secret (so secret scanners can find leaked ones).
pub const SESSION_PREFIX: &str = "arbs_";

/// How a session was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignIn {
    /// With the user's password.
    Password,
    /// With one of the user's API tokens.
    Token,
}

impl SignIn {
    /// `password` or `token`, as stored and audited.
    pub fn as_str(self) -> &'static str {
        match self {
            SignIn::Password => "password",
            SignIn::Token => "token",
        }
    }
}

/// A session just opened: the secret goes into the cookie and is never
/// stored or shown again.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// Identifier (not secret), as recorded in the audit log.
    pub id: String,
    /// The cookie value.
    pub secret: String,
    /// When it ends, Unix ms.
    pub expires_at: i64,
}

/// A valid session, as the cookie check finds it.
#[derive(Debug, Clone)]
pub struct ActiveSession {
    /// Identifier.
    pub id: String,
    /// Whose it is.
    pub user: UserRow,
    /// When it ends, Unix ms.
    pub expires_at: i64,
}

/// The stored form of a session secret: hex SHA-256 (the secret carries 256
/// random bits, so a fast hash is enough), domain-separated from token
/// hashes so that one can never be taken for the other.
pub fn secret_hash(secret: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"arbiter-web-session-v1\0");
    h.update(secret.as_bytes());
    hex::encode(h.finalize())
}

fn random_hex(bytes: usize) -> Result<String> {
    let mut b = vec![0u8; bytes];
    getrandom::fill(&mut b).map_err(|e| StoreError::Config(format!("no randomness: {e}")))?;
    Ok(hex::encode(b))
}

/// Opens a session for `user` lasting `ttl_ms`, audited as
/// `session.created` by the user. Expired sessions are deleted on the way
/// (housekeeping, like forgetting old nonces: not audited).
pub async fn create(
    cx: &mut WriteCtx,
    user: &str,
    method: SignIn,
    token_id: Option<&str>,
    ttl_ms: i64,
) -> Result<NewSession> {
    let now = cx.now_ms();
    sqlx::query("DELETE FROM web_sessions WHERE expires_at <= $1")
        .bind(now)
        .execute(cx.conn())
        .await?;
    let id = format!("ses_{}", random_hex(8)?);
    let secret = format!("{SESSION_PREFIX}{}", random_hex(32)?);
    let expires_at = now.saturating_add(ttl_ms.max(1));
    sqlx::query("INSERT INTO web_sessions (id, secret_hash, user_name, token_id, method, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(&id)
        .bind(secret_hash(&secret))
        .bind(user)
        .bind(token_id)
        .bind(method.as_str())
        .bind(now)
        .bind(expires_at)
        .execute(cx.conn())
        .await?;
    cx.audit(
        &format!("user:{user}"),
        arbiter_api::AuditAction::SessionCreated,
        &format!("session:{id}"),
        &serde_json::json!({"user": user, "method": method.as_str(), "token_id": token_id, "expires_at": Timestamp::from_unix_ms(expires_at)}),
    )
    .await?;
    Ok(NewSession {
        id,
        secret,
        expires_at,
    })
}

/// The session a cookie secret opens, if it is valid now: not expired, its
/// user not disabled, and its token (if it was opened with one) neither
/// revoked nor expired.
pub async fn authenticate(pool: &AnyPool, secret: &str, now: i64) -> Result<Option<ActiveSession>> {
    if !secret.starts_with(SESSION_PREFIX) || secret.len() > 200 {
        return Ok(None);
    }
    let row = sqlx::query(
        "SELECT s.id, s.expires_at, u.name, u.role, u.password_hash, u.created_at FROM web_sessions s \
         JOIN users u ON u.name = s.user_name LEFT JOIN api_tokens t ON t.id = s.token_id \
         WHERE s.secret_hash = $1 AND s.expires_at > $2 AND u.disabled_at IS NULL \
         AND (s.token_id IS NULL OR (t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > $2)))",
    )
    .bind(secret_hash(secret))
    .bind(now)
    .fetch_optional(pool)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let name: String = r.try_get("name")?;
    let role: String = r.try_get("role")?;
    let role = arbiter_api::Role::parse(&role).ok_or_else(|| StoreError::Corrupt {
        what: "user",
        key: name.clone(),
        why: format!("unknown role {role:?}"),
    })?;
    let pw: Option<String> = r.try_get("password_hash")?;
    Ok(Some(ActiveSession {
        id: r.try_get("id")?,
        expires_at: r.try_get("expires_at")?,
        user: UserRow {
            name,
            role,
            created_at: Timestamp::from_unix_ms(r.try_get("created_at")?),
            has_password: pw.is_some(),
        },
    }))
}

/// Ends the session of a cookie secret (sign-out), audited as
/// `session.deleted`. Returns whether there was one.
pub async fn delete(cx: &mut WriteCtx, secret: &str) -> Result<bool> {
    let row = sqlx::query("SELECT id, user_name FROM web_sessions WHERE secret_hash = $1")
        .bind(secret_hash(secret))
        .fetch_optional(cx.conn())
        .await?;
    let Some(r) = row else { return Ok(false) };
    let id: String = r.try_get("id")?;
    let user: String = r.try_get("user_name")?;
    sqlx::query("DELETE FROM web_sessions WHERE id = $1")
        .bind(&id)
        .execute(cx.conn())
        .await?;
    cx.audit(
        &format!("user:{user}"),
        arbiter_api::AuditAction::SessionDeleted,
        &format!("session:{id}"),
        &serde_json::json!({"user": user}),
    )
    .await?;
    Ok(true)
}

/// Number of sessions stored (expired ones included until they are purged).
pub async fn count(pool: &AnyPool) -> Result<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM web_sessions")
        .fetch_one(pool)
        .await?)
}

#[cfg(test)]
mod tests {
    #[test]
    fn session_hashes_differ_from_token_hashes() {
        let s = "arbs_00";
        assert_ne!(super::secret_hash(s), crate::principals::token_hash(s));
        assert_eq!(super::secret_hash(s).len(), 64);
    }
}
