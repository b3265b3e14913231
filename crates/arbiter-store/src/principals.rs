//! People (users, API tokens) and agents (keys, scopes, nonces).

use crate::{parse_doc, to_doc, Result, StoreError, WriteCtx};
use arbiter_api::{PublicKey, Role, ScopeAction, Timestamp};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::{AnyPool, Row};

/// Prefix of every API token, so that secret scanners can find leaked ones.
pub const TOKEN_PREFIX: &str = "arb_";

fn random_hex(bytes: usize) -> Result<String> {
    let mut b = vec![0u8; bytes];
    getrandom::fill(&mut b).map_err(|e| StoreError::Config(format!("no randomness: {e}")))?;
    Ok(hex::encode(b))
}

/// The stored form of a token secret: hex SHA-256. Tokens carry 256 random
/// bits, so a fast hash is enough (no dictionary to attack).
pub fn token_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn unique(e: sqlx::Error, what: String) -> StoreError {
    let e = StoreError::from(e);
    if e.is_unique_violation() {
        StoreError::Conflict(what)
    } else {
        e
    }
}

/// A stored person (the API's `User`).
#[derive(Debug, Clone, PartialEq)]
pub struct UserRow {
    /// Unique name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// When it was created.
    pub created_at: Timestamp,
    /// Whether a password is set.
    pub has_password: bool,
}

/// A stored API token (the API's `Token`); the secret only in the answer to
/// its creation.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenRow {
    /// Identifier.
    pub id: String,
    /// Whose it is.
    pub user: String,
    /// Label.
    pub label: Option<String>,
    /// The secret (only when created).
    pub token: Option<String>,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it expires.
    pub expires_at: Option<Timestamp>,
    /// When it was revoked.
    pub revoked_at: Option<Timestamp>,
}

fn user_from_row(row: &sqlx::any::AnyRow) -> Result<UserRow> {
    let name: String = row.try_get("name")?;
    let role: String = row.try_get("role")?;
    let role = Role::parse(&role).ok_or_else(|| StoreError::Corrupt {
        what: "user",
        key: name.clone(),
        why: format!("unknown role {role:?}"),
    })?;
    let pw: Option<String> = row.try_get("password_hash")?;
    Ok(UserRow {
        name,
        role,
        created_at: Timestamp::from_unix_ms(row.try_get("created_at")?),
        has_password: pw.is_some(),
    })
}

/// Creates a person. `password_hash` is already hashed by the caller.
pub async fn create_user(
    cx: &mut WriteCtx,
    name: &str,
    role: Role,
    password_hash: Option<String>,
    actor: &str,
) -> Result<UserRow> {
    let now = cx.now_ms();
    let has_password = password_hash.is_some();
    sqlx::query(
        "INSERT INTO users (name, role, password_hash, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(name)
    .bind(role.as_str())
    .bind(password_hash)
    .bind(now)
    .execute(cx.conn())
    .await
    .map_err(|e| unique(e, format!("user {name:?} exists already")))?;
    cx.audit(
        actor,
        arbiter_api::AuditAction::UserCreated,
        &format!("user:{name}"),
        &serde_json::json!({"role": role}),
    )
    .await?;
    Ok(UserRow {
        name: name.into(),
        role,
        created_at: Timestamp::from_unix_ms(now),
        has_password,
    })
}

/// One person.
pub async fn get_user(pool: &AnyPool, name: &str) -> Result<Option<UserRow>> {
    let row = sqlx::query("SELECT name, role, password_hash, created_at FROM users WHERE name = $1 AND disabled_at IS NULL")
        .bind(name)
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(user_from_row).transpose()
}

/// A person's stored password hash, for sign-in.
pub async fn password_hash(pool: &AnyPool, name: &str) -> Result<Option<(UserRow, String)>> {
    let row = sqlx::query("SELECT name, role, password_hash, created_at FROM users WHERE name = $1 AND disabled_at IS NULL")
        .bind(name)
        .fetch_optional(pool)
        .await?;
    match row {
        Some(r) => {
            let hash: Option<String> = r.try_get("password_hash")?;
            Ok(hash
                .map(|h| user_from_row(&r).map(|u| (u, h)))
                .transpose()?)
        }
        None => Ok(None),
    }
}

/// Everyone, by name.
pub async fn list_users(pool: &AnyPool) -> Result<Vec<UserRow>> {
    let rows = sqlx::query("SELECT name, role, password_hash, created_at FROM users WHERE disabled_at IS NULL ORDER BY name")
        .fetch_all(pool)
        .await?;
    rows.iter().map(user_from_row).collect()
}

/// Whether anyone exists yet (first start).
pub async fn any_user(pool: &AnyPool) -> Result<bool> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(pool)
        .await?;
    Ok(n > 0)
}

/// Creates a token for a user; the answer carries the secret, which is
/// never stored or shown again.
pub async fn create_token(
    cx: &mut WriteCtx,
    user: &str,
    label: Option<String>,
    expires_in_seconds: Option<i64>,
    actor: &str,
) -> Result<TokenRow> {
    let now = cx.now_ms();
    let id = format!("tok_{}", random_hex(8)?);
    let secret = format!("{TOKEN_PREFIX}{}", random_hex(32)?);
    let expires_at = expires_in_seconds.map(|s| now.saturating_add(s.saturating_mul(1000)));
    sqlx::query("INSERT INTO api_tokens (id, token_hash, user_name, label, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(&id)
        .bind(token_hash(&secret))
        .bind(user)
        .bind(&label)
        .bind(now)
        .bind(expires_at)
        .execute(cx.conn())
        .await?;
    cx.audit(
        actor,
        arbiter_api::AuditAction::TokenCreated,
        &format!("token:{id}"),
        &serde_json::json!({"user": user, "label": label}),
    )
    .await?;
    Ok(TokenRow {
        id,
        user: user.into(),
        label,
        token: Some(secret),
        created_at: Timestamp::from_unix_ms(now),
        expires_at: expires_at.map(Timestamp::from_unix_ms),
        revoked_at: None,
    })
}

fn token_from_row(row: &sqlx::any::AnyRow) -> Result<TokenRow> {
    let exp: Option<i64> = row.try_get("expires_at")?;
    let rev: Option<i64> = row.try_get("revoked_at")?;
    Ok(TokenRow {
        id: row.try_get("id")?,
        user: row.try_get("user_name")?,
        label: row.try_get("label")?,
        token: None,
        created_at: Timestamp::from_unix_ms(row.try_get("created_at")?),
        expires_at: exp.map(Timestamp::from_unix_ms),
        revoked_at: rev.map(Timestamp::from_unix_ms),
    })
}

/// Tokens, of one user or of everyone.
pub async fn list_tokens(pool: &AnyPool, user: Option<&str>) -> Result<Vec<TokenRow>> {
    let rows = match user {
        Some(u) => sqlx::query("SELECT id, user_name, label, created_at, expires_at, revoked_at FROM api_tokens WHERE user_name = $1 ORDER BY created_at")
            .bind(u)
            .fetch_all(pool)
            .await?,
        None => sqlx::query("SELECT id, user_name, label, created_at, expires_at, revoked_at FROM api_tokens ORDER BY created_at")
            .fetch_all(pool)
            .await?,
    };
    rows.iter().map(token_from_row).collect()
}

/// One token (without its secret).
pub async fn get_token(pool: &AnyPool, id: &str) -> Result<Option<TokenRow>> {
    let row = sqlx::query("SELECT id, user_name, label, created_at, expires_at, revoked_at FROM api_tokens WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(token_from_row).transpose()
}

/// Revokes a token; revoking twice is a conflict.
pub async fn revoke_token(cx: &mut WriteCtx, id: &str, actor: &str) -> Result<()> {
    let now = cx.now_ms();
    let r =
        sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(now)
            .bind(id)
            .execute(cx.conn())
            .await?;
    if r.rows_affected() == 0 {
        return Err(StoreError::NotFound {
            what: "active token",
            key: id.into(),
        });
    }
    cx.audit(
        actor,
        arbiter_api::AuditAction::TokenRevoked,
        &format!("token:{id}"),
        &serde_json::json!({}),
    )
    .await?;
    Ok(())
}

/// The person a token secret belongs to, if it is valid now.
pub async fn authenticate_token(
    pool: &AnyPool,
    secret: &str,
    now: i64,
) -> Result<Option<(UserRow, String)>> {
    let row = sqlx::query(
        "SELECT u.name, u.role, u.password_hash, u.created_at, t.id AS token_id FROM api_tokens t JOIN users u ON u.name = t.user_name \
         WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > $2) AND u.disabled_at IS NULL",
    )
    .bind(token_hash(secret))
    .bind(now)
    .fetch_optional(pool)
    .await?;
    match row {
        Some(r) => {
            let id: String = r.try_get("token_id")?;
            Ok(Some((user_from_row(&r)?, id)))
        }
        None => Ok(None),
    }
}

/// What an agent may do, as stored (the `scope` document; the API's
/// `AgentScope`). Its JSON is the stored text, so its fields keep their
/// names and order; a missing field takes the API's default and unknown
/// fields are ignored, so a database written by a later version still reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentScopeDoc {
    /// Stack names or globs.
    #[serde(default)]
    pub stacks: Vec<String>,
    /// Stacks carrying any of these labels are allowed too.
    #[serde(default)]
    pub stack_labels: Vec<String>,
    /// Allowed actions (default: all four); an unknown spelling is a
    /// corrupt row (the API never accepted one).
    #[serde(default = "all_actions")]
    pub actions: Vec<ScopeAction>,
    /// Allowed resource types, globs (default `*`).
    #[serde(default = "all_types")]
    pub resource_types: Vec<String>,
    /// Most resources one change request may change.
    #[serde(default)]
    pub max_blast_radius: Option<u64>,
    /// Largest monthly cost increase one change request may cause, USD.
    #[serde(default)]
    pub max_monthly_cost_increase_usd: Option<f64>,
    /// Longest TTL the agent may give an ephemeral stack, seconds.
    #[serde(default)]
    pub max_ttl_seconds: Option<i64>,
    /// Whether its approved changes may be applied without a person.
    #[serde(default)]
    pub may_auto_apply: bool,
}

fn all_actions() -> Vec<ScopeAction> {
    ScopeAction::ALL.to_vec()
}

fn all_types() -> Vec<String> {
    vec!["*".into()]
}

impl Default for AgentScopeDoc {
    /// What a missing document means: no stacks, every action and type.
    fn default() -> Self {
        AgentScopeDoc {
            stacks: Vec::new(),
            stack_labels: Vec::new(),
            actions: all_actions(),
            resource_types: all_types(),
            max_blast_radius: None,
            max_monthly_cost_increase_usd: None,
            max_ttl_seconds: None,
            may_auto_apply: false,
        }
    }
}

/// An agent's velocity limits, as stored (the `limits` document; the API's
/// `AgentLimits`), read like [`AgentScopeDoc`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentLimitsDoc {
    /// Submissions per minute (default 60).
    #[serde(default = "default_rate")]
    pub submissions_per_minute: u32,
    /// Resources changed per hour, summed over submissions (default 500).
    #[serde(default = "default_blast_hour")]
    pub blast_radius_per_hour: u64,
}

fn default_rate() -> u32 {
    60
}

fn default_blast_hour() -> u64 {
    500
}

impl Default for AgentLimitsDoc {
    fn default() -> Self {
        AgentLimitsDoc {
            submissions_per_minute: default_rate(),
            blast_radius_per_hour: default_blast_hour(),
        }
    }
}

/// A stored key of an agent (the API's `AgentKeyInfo`).
#[derive(Debug, Clone, PartialEq)]
pub struct AgentKeyRow {
    /// Key ID (see the signing scheme).
    pub key_id: String,
    /// Base64 of the raw public key.
    pub public_key: String,
    /// When it was registered.
    pub created_at: Timestamp,
    /// When it was revoked.
    pub revoked_at: Option<Timestamp>,
}

/// A stored agent with its keys (the API's `Agent`).
#[derive(Debug, Clone, PartialEq)]
pub struct AgentRow {
    /// Unique name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Its keys, oldest first.
    pub keys: Vec<AgentKeyRow>,
    /// What it may do.
    pub scope: AgentScopeDoc,
    /// How fast it may go.
    pub limits: AgentLimitsDoc,
    /// Who created it.
    pub created_by: String,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it was revoked (all its keys are then refused).
    pub revoked_at: Option<Timestamp>,
}

/// A change to an agent (the API's `AgentUpdate` without the key, which the
/// caller parses): each field given replaces the stored one.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AgentChange {
    /// New description.
    pub description: Option<String>,
    /// New scope.
    pub scope: Option<AgentScopeDoc>,
    /// New limits.
    pub limits: Option<AgentLimitsDoc>,
}

/// An agent's key as the signature check needs it.
#[derive(Debug, Clone)]
pub struct KeyRecord {
    /// The agent.
    pub agent: String,
    /// Its public key.
    pub public_key: PublicKey,
    /// Whether this key, or the whole agent, was revoked.
    pub revoked: bool,
    /// The agent's scope.
    pub scope: AgentScopeDoc,
    /// The agent's limits.
    pub limits: AgentLimitsDoc,
}

/// Looks a key up by ID.
pub async fn find_key(pool: &AnyPool, key_id: &str) -> Result<Option<KeyRecord>> {
    let row = sqlx::query(
        "SELECT k.agent_name, k.public_key, k.revoked_at AS key_revoked, a.revoked_at AS agent_revoked, a.scope, a.limits \
         FROM agent_keys k JOIN agents a ON a.name = k.agent_name WHERE k.key_id = $1",
    )
    .bind(key_id)
    .fetch_optional(pool)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let agent: String = r.try_get("agent_name")?;
    let pk: String = r.try_get("public_key")?;
    let public_key = PublicKey::parse(&pk).map_err(|e| StoreError::Corrupt {
        what: "agent key",
        key: key_id.into(),
        why: e.to_string(),
    })?;
    let kr: Option<i64> = r.try_get("key_revoked")?;
    let ar: Option<i64> = r.try_get("agent_revoked")?;
    Ok(Some(KeyRecord {
        scope: parse_doc("agent scope", &agent, &r.try_get::<String, _>("scope")?)?,
        limits: parse_doc("agent limits", &agent, &r.try_get::<String, _>("limits")?)?,
        agent,
        public_key,
        revoked: kr.is_some() || ar.is_some(),
    }))
}

async fn insert_key(cx: &mut WriteCtx, agent: &str, key: &PublicKey) -> Result<String> {
    let id = key.key_id();
    sqlx::query("INSERT INTO agent_keys (key_id, agent_name, public_key, created_at) VALUES ($1, $2, $3, $4)")
        .bind(&id)
        .bind(agent)
        .bind(key.to_base64())
        .bind(cx.now_ms())
        .execute(cx.conn())
        .await
        .map_err(|e| unique(e, format!("key {id} is registered already")))?;
    Ok(id)
}

/// Creates an agent with its first key.
#[allow(clippy::too_many_arguments)]
pub async fn create_agent(
    cx: &mut WriteCtx,
    name: &str,
    description: Option<String>,
    key: &PublicKey,
    scope: &AgentScopeDoc,
    limits: &AgentLimitsDoc,
    actor: &str,
) -> Result<AgentRow> {
    let now = cx.now_ms();
    sqlx::query("INSERT INTO agents (name, description, scope, limits, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(name)
        .bind(&description)
        .bind(to_doc(scope))
        .bind(to_doc(limits))
        .bind(actor)
        .bind(now)
        .execute(cx.conn())
        .await
        .map_err(|e| unique(e, format!("agent {name:?} exists already")))?;
    let key_id = insert_key(cx, name, key).await?;
    cx.audit(
        actor,
        arbiter_api::AuditAction::AgentCreated,
        &format!("agent:{name}"),
        &serde_json::json!({"key_id": key_id, "scope": scope, "limits": limits}),
    )
    .await?;
    get_agent_in(cx, name).await
}

async fn agent_from_parts(
    row: &sqlx::any::AnyRow,
    keys: Vec<sqlx::any::AnyRow>,
) -> Result<AgentRow> {
    let name: String = row.try_get("name")?;
    let rev: Option<i64> = row.try_get("revoked_at")?;
    let keys = keys
        .iter()
        .map(|k| {
            let kr: Option<i64> = k.try_get("revoked_at")?;
            Ok(AgentKeyRow {
                key_id: k.try_get("key_id")?,
                public_key: k.try_get("public_key")?,
                created_at: Timestamp::from_unix_ms(k.try_get("created_at")?),
                revoked_at: kr.map(Timestamp::from_unix_ms),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(AgentRow {
        scope: parse_doc("agent scope", &name, &row.try_get::<String, _>("scope")?)?,
        limits: parse_doc("agent limits", &name, &row.try_get::<String, _>("limits")?)?,
        description: row.try_get("description")?,
        created_by: row.try_get("created_by")?,
        created_at: Timestamp::from_unix_ms(row.try_get("created_at")?),
        revoked_at: rev.map(Timestamp::from_unix_ms),
        keys,
        name,
    })
}

const AGENT_COLUMNS: &str = "name, description, scope, limits, created_by, created_at, revoked_at";
const KEY_COLUMNS: &str = "key_id, public_key, created_at, revoked_at";

async fn get_agent_in(cx: &mut WriteCtx, name: &str) -> Result<AgentRow> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {AGENT_COLUMNS} FROM agents WHERE name = $1"
    )))
    .bind(name)
    .fetch_optional(cx.conn())
    .await?
    .ok_or_else(|| StoreError::NotFound {
        what: "agent",
        key: name.into(),
    })?;
    let keys = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {KEY_COLUMNS} FROM agent_keys WHERE agent_name = $1 ORDER BY created_at, key_id"
    )))
    .bind(name)
    .fetch_all(cx.conn())
    .await?;
    agent_from_parts(&row, keys).await
}

/// One agent with its keys.
pub async fn get_agent(pool: &AnyPool, name: &str) -> Result<Option<AgentRow>> {
    let Some(row) = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {AGENT_COLUMNS} FROM agents WHERE name = $1"
    )))
    .bind(name)
    .fetch_optional(pool)
    .await?
    else {
        return Ok(None);
    };
    let keys = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {KEY_COLUMNS} FROM agent_keys WHERE agent_name = $1 ORDER BY created_at, key_id"
    )))
    .bind(name)
    .fetch_all(pool)
    .await?;
    agent_from_parts(&row, keys).await.map(Some)
}

/// All agents, by name.
pub async fn list_agents(pool: &AnyPool) -> Result<Vec<AgentRow>> {
    let names: Vec<String> = sqlx::query_scalar("SELECT name FROM agents ORDER BY name")
        .fetch_all(pool)
        .await?;
    let mut out = Vec::with_capacity(names.len());
    for n in names {
        if let Some(a) = get_agent(pool, &n).await? {
            out.push(a);
        }
    }
    Ok(out)
}

/// Changes an agent's description, scope or limits, or adds a key.
pub async fn update_agent(
    cx: &mut WriteCtx,
    name: &str,
    up: &AgentChange,
    new_key: Option<&PublicKey>,
    actor: &str,
) -> Result<AgentRow> {
    let current = get_agent_in(cx, name).await?;
    if current.revoked_at.is_some() {
        return Err(StoreError::Conflict(format!("agent {name:?} is revoked")));
    }
    sqlx::query("UPDATE agents SET description = $1, scope = $2, limits = $3 WHERE name = $4")
        .bind(up.description.clone().or(current.description))
        .bind(to_doc(up.scope.as_ref().unwrap_or(&current.scope)))
        .bind(to_doc(up.limits.as_ref().unwrap_or(&current.limits)))
        .bind(name)
        .execute(cx.conn())
        .await?;
    let mut payload =
        serde_json::json!({"scope": up.scope, "limits": up.limits, "description": up.description});
    if let Some(k) = new_key {
        payload["added_key_id"] = insert_key(cx, name, k).await?.into();
    }
    cx.audit(
        actor,
        arbiter_api::AuditAction::AgentUpdated,
        &format!("agent:{name}"),
        &payload,
    )
    .await?;
    get_agent_in(cx, name).await
}

/// Revokes an agent and all its keys: its signatures are refused from now on.
pub async fn revoke_agent(cx: &mut WriteCtx, name: &str, actor: &str) -> Result<AgentRow> {
    let now = cx.now_ms();
    let r = sqlx::query("UPDATE agents SET revoked_at = $1 WHERE name = $2 AND revoked_at IS NULL")
        .bind(now)
        .bind(name)
        .execute(cx.conn())
        .await?;
    if r.rows_affected() == 0 {
        return Err(match get_agent_in(cx, name).await {
            Ok(_) => StoreError::Conflict(format!("agent {name:?} is revoked already")),
            Err(e) => e,
        });
    }
    sqlx::query(
        "UPDATE agent_keys SET revoked_at = $1 WHERE agent_name = $2 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(name)
    .execute(cx.conn())
    .await?;
    cx.audit(
        actor,
        arbiter_api::AuditAction::AgentRevoked,
        &format!("agent:{name}"),
        &serde_json::json!({}),
    )
    .await?;
    get_agent_in(cx, name).await
}

/// Revokes one key of an agent (after a rotation).
pub async fn revoke_key(
    cx: &mut WriteCtx,
    agent: &str,
    key_id: &str,
    actor: &str,
) -> Result<AgentRow> {
    let r = sqlx::query("UPDATE agent_keys SET revoked_at = $1 WHERE agent_name = $2 AND key_id = $3 AND revoked_at IS NULL")
        .bind(cx.now_ms())
        .bind(agent)
        .bind(key_id)
        .execute(cx.conn())
        .await?;
    if r.rows_affected() == 0 {
        return Err(StoreError::NotFound {
            what: "active key of that agent",
            key: key_id.into(),
        });
    }
    cx.audit(
        actor,
        arbiter_api::AuditAction::AgentKeyRevoked,
        &format!("agent:{agent}"),
        &serde_json::json!({"key_id": key_id}),
    )
    .await?;
    get_agent_in(cx, agent).await
}

/// Whether a nonce was seen already (for tools and tests; the server relies
/// on [`use_nonce`], which is authoritative across replicas).
pub async fn nonce_seen(pool: &AnyPool, key_id: &str, nonce: &str) -> Result<bool> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM nonces WHERE key_id = $1 AND nonce = $2")
        .bind(key_id)
        .bind(nonce)
        .fetch_one(pool)
        .await?;
    Ok(n > 0)
}

/// Records a nonce; `false` if it was used before (a replay). Unique across
/// replicas through the primary key.
pub async fn use_nonce(cx: &mut WriteCtx, key_id: &str, nonce: &str) -> Result<bool> {
    let r = sqlx::query(
        "INSERT INTO nonces (key_id, nonce, seen_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(key_id)
    .bind(nonce)
    .bind(cx.now_ms())
    .execute(cx.conn())
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Forgets nonces older than `before` (ms): requests that old are refused
/// by their timestamp anyway.
pub async fn purge_nonces(cx: &mut WriteCtx, before: i64) -> Result<u64> {
    let r = sqlx::query("DELETE FROM nonces WHERE seen_at < $1")
        .bind(before)
        .execute(cx.conn())
        .await?;
    Ok(r.rows_affected())
}
