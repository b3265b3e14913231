//! Agents' short-lived bearer tokens for the MCP endpoint (migration 0008).
//!
//! A token is minted by a signed request of the agent itself; it has no
//! scope of its own (each use reads the agent's scope and limits) and works
//! only while it, the minting key and the agent are all unrevoked and it has
//! not expired. Only the SHA-256 of the secret is stored.

use crate::principals::token_hash;
use crate::principals::{AgentLimitsDoc, AgentScopeDoc};
use crate::{parse_doc, Result, StoreError, WriteCtx};
use arbiter_api::{AuditAction, Timestamp};
use sqlx::{AnyPool, Row};

/// Prefix of every agent token secret (people's tokens start `arb_`), so
/// that secret scanners can find leaked ones and logs can tell them apart.
pub const AGENT_TOKEN_PREFIX: &str = "arbat_";

/// A minted token as stored (the secret only when it is made); the server
/// answers it as the API's `AgentToken`.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentTokenRow {
    /// Token id (`atok_…`), as in the audit log.
    pub id: String,
    /// The agent it acts for.
    pub agent: String,
    /// The key whose signed request minted it.
    pub key_id: String,
    /// Free text.
    pub label: Option<String>,
    /// The secret (`arbat_…`): shown once, never stored.
    pub token: Option<String>,
    /// Minted.
    pub created_at: Timestamp,
    /// It is refused from this instant on.
    pub expires_at: Timestamp,
}

/// Who a valid agent token acts for.
#[derive(Debug, Clone)]
pub struct AgentTokenOwner {
    /// Token id.
    pub token_id: String,
    /// The agent.
    pub agent: String,
    /// The key that minted it.
    pub key_id: String,
    /// The agent's scope now.
    pub scope: AgentScopeDoc,
    /// The agent's limits now.
    pub limits: AgentLimitsDoc,
}

fn random_hex(bytes: usize) -> Result<String> {
    let mut b = vec![0u8; bytes];
    getrandom::fill(&mut b).map_err(|e| StoreError::Config(format!("no randomness: {e}")))?;
    Ok(hex::encode(b))
}

/// Mints a token for `agent`, signed for by `key_id`, valid `ttl_ms`;
/// audited as `agent.token.created` by the agent itself.
pub async fn mint(
    cx: &mut WriteCtx,
    agent: &str,
    key_id: &str,
    label: Option<String>,
    ttl_ms: i64,
) -> Result<AgentTokenRow> {
    let now = cx.now_ms();
    let id = format!("atok_{}", random_hex(8)?);
    let secret = format!("{AGENT_TOKEN_PREFIX}{}", random_hex(32)?);
    let expires_at = now.saturating_add(ttl_ms);
    sqlx::query("INSERT INTO agent_tokens (id, token_hash, agent_name, key_id, label, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(&id)
        .bind(token_hash(&secret))
        .bind(agent)
        .bind(key_id)
        .bind(&label)
        .bind(now)
        .bind(expires_at)
        .execute(cx.conn())
        .await?;
    cx.audit(
        &format!("agent:{agent}"),
        AuditAction::AgentTokenCreated,
        &format!("agent:{agent}"),
        &serde_json::json!({
            "token": id,
            "key_id": key_id,
            "label": label,
            "expires_at": Timestamp::from_unix_ms(expires_at),
        }),
    )
    .await?;
    Ok(AgentTokenRow {
        id,
        agent: agent.into(),
        key_id: key_id.into(),
        label,
        token: Some(secret),
        created_at: Timestamp::from_unix_ms(now),
        expires_at: Timestamp::from_unix_ms(expires_at),
    })
}

/// The agent a token secret acts for, if the token, its key and the agent
/// are valid at `now`.
pub async fn authenticate(
    pool: &AnyPool,
    secret: &str,
    now: i64,
) -> Result<Option<AgentTokenOwner>> {
    let row = sqlx::query(
        "SELECT t.id, t.agent_name, t.key_id, a.scope, a.limits FROM agent_tokens t \
         JOIN agent_keys k ON k.key_id = t.key_id JOIN agents a ON a.name = t.agent_name \
         WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND t.expires_at > $2 \
         AND k.revoked_at IS NULL AND a.revoked_at IS NULL AND k.agent_name = t.agent_name",
    )
    .bind(token_hash(secret))
    .bind(now)
    .fetch_optional(pool)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let agent: String = r.try_get("agent_name")?;
    Ok(Some(AgentTokenOwner {
        token_id: r.try_get("id")?,
        key_id: r.try_get("key_id")?,
        scope: parse_doc("agent scope", &agent, &r.try_get::<String, _>("scope")?)?,
        limits: parse_doc("agent limits", &agent, &r.try_get::<String, _>("limits")?)?,
        agent,
    }))
}
