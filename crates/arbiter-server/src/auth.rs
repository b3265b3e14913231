//! Who is calling: a person with a bearer token (or a web session), or an
//! agent with a signed request (`ARBITER-SIG-V1`, see arbiter_api::signing).
//!
//! The middleware checks the credentials from the headers alone, before any
//! of the body is read: a token or session, or a signature's form, clock,
//! key (known, not revoked) and, when the request carries the signed
//! `X-Arbiter-Content-SHA256`, the signature itself. Only then is the body
//! read (see [`crate::intake`]: limited, streamed, against the signed
//! digest). A signature in the deprecated form without that header can only
//! be verified once the body is in. The nonce of a signed request is
//! recorded (so it can never be replayed, on any replica), and the
//! [`Principal`] goes into the request's extensions.

use crate::error::{ApiError, ApiResult};
use crate::AppState;
use arbiter_api::{AgentLimits, AgentScope, ErrorCode, Role, SignatureHeaders, SigningError};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The caller.
#[derive(Debug, Clone)]
pub enum Principal {
    /// A person.
    User {
        /// User name.
        name: String,
        /// Role.
        role: Role,
        /// The token used, or `None` for a web session.
        token_id: Option<String>,
    },
    /// An agent whose signature verified.
    Agent {
        /// Agent name.
        name: String,
        /// The key that signed.
        key_id: String,
        /// What it may do.
        scope: AgentScope,
        /// How fast.
        limits: AgentLimits,
    },
}

impl Principal {
    /// `user:NAME` or `agent:NAME`, as recorded in change requests and the audit log.
    pub fn id(&self) -> String {
        match self {
            Principal::User { name, .. } => format!("user:{name}"),
            Principal::Agent { name, .. } => format!("agent:{name}"),
        }
    }

    /// The person's role; agents have none.
    pub fn role(&self) -> Option<Role> {
        match self {
            Principal::User { role, .. } => Some(*role),
            Principal::Agent { .. } => None,
        }
    }

    /// Requires a person with at least this role.
    pub fn require(&self, min: Role) -> ApiResult<()> {
        match self.role() {
            Some(r) if r >= min => Ok(()),
            Some(r) => Err(ApiError::forbidden(format!(
                "this needs the {} role; {} is {}",
                min.as_str(),
                self.id(),
                r.as_str()
            ))),
            None => Err(ApiError::forbidden(format!(
                "agents cannot do this; it needs a person with the {} role",
                min.as_str()
            ))),
        }
    }
}

/// A worker, authenticated by its pool's token (`Authorization: Bearer
/// arbw_…`). Accepted on the worker endpoints only, where it is the only
/// kind of caller.
#[derive(Debug, Clone)]
pub struct Worker {
    /// The pool.
    pub pool: String,
    /// The SHA-256 of its token (to record the token's use).
    pub token_hash: String,
}

/// A caller of Terraform's HTTP state backend (basic auth), scoped to one
/// stack. Accepted on `/api/v1/stacks/{name}/tfstate` only.
#[derive(Debug, Clone)]
pub struct BackendUser {
    /// The stack the credentials are for.
    pub stack: String,
    /// The run they were minted for (`None`: a person's own).
    pub run: Option<i64>,
    /// The login name.
    pub username: String,
    /// Who minted them (for a person's own: the admin).
    pub created_by: String,
    /// A run's credentials after the run ended: every request with them
    /// is refused (writes with the run's phase named, and audited).
    pub ended: bool,
}

/// Whether `(method, path)` is a worker endpoint.
pub fn is_worker_route(method: &str, path: &str) -> bool {
    let Some(rest) = path.strip_prefix("/api/v1/") else {
        return false;
    };
    let parts: Vec<&str> = rest.split('/').collect();
    matches!(
        (method, parts.as_slice()),
        ("POST", ["runs", "claim"])
            | ("GET", ["runs", _, "judged-plan"])
            | ("GET", ["bundles", _])
            | (
                "POST",
                ["runs", _, "heartbeat" | "phase" | "logs" | "revision"]
            )
    )
}

/// Whether `path` is a stack's state backend.
pub fn is_backend_route(path: &str) -> bool {
    path.strip_prefix("/api/v1/stacks/")
        .and_then(|r| r.strip_suffix("/tfstate"))
        .is_some_and(|name| !name.is_empty() && !name.contains('/'))
}

/// Paths anyone may call.
pub fn is_public(path: &str) -> bool {
    matches!(
        path,
        "/healthz"
            | "/metrics"
            | "/api/v1/openapi.json"
            | "/api/v1/schemas/verdict.json"
            | "/api/v1/audit/key"
    )
}

fn signature_error(e: SigningError) -> ApiError {
    ApiError::new(e.code(), e.to_string())
}

/// The authentication middleware.
pub async fn authenticate(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let (parts, mut body) = req.into_parts();
    match authenticate_inner(&app, parts, &mut body).await {
        Ok((req, slot)) => {
            let resp = next.run(req).await;
            // A large body's slot is held until its answer is written.
            drop(slot);
            resp
        }
        Err(e) => {
            // Whatever of the body is still coming is read and dropped
            // (never kept) while the refusal is sent.
            crate::intake::discard(
                body,
                app.config.max_body_bytes.saturating_mul(4),
                std::time::Duration::from_secs(10),
            );
            e.into_response()
        }
    }
}

async fn record_nonce(app: &AppState, key_id: &str, nonce: &str) -> ApiResult<()> {
    let (kid, n) = (key_id.to_string(), nonce.to_string());
    let fresh = app
        .store
        .write(move |cx| {
            Box::pin(async move { arbiter_store::principals::use_nonce(cx, &kid, &n).await })
        })
        .await?;
    if !fresh {
        return Err(ApiError::new(
            ErrorCode::ReplayedNonce,
            format!("nonce {nonce} was used before with key {key_id}"),
        ));
    }
    Ok(())
}

/// An agent's token (`arbat_…`): valid at `/mcp` only, where standard MCP
/// clients cannot sign; everywhere else agents sign their requests.
async fn agent_token(app: &AppState, path: &str, token: &str) -> ApiResult<Principal> {
    let invalid = || {
        ApiError::new(
            ErrorCode::InvalidToken,
            "the token is unknown, revoked or expired",
        )
    };
    if !token.starts_with(arbiter_store::agent_tokens::AGENT_TOKEN_PREFIX) {
        return Err(invalid());
    }
    if path != "/mcp" {
        return Err(ApiError::new(
            ErrorCode::AgentTokenOutsideMcp,
            "agent tokens are accepted at /mcp only; sign API requests with the agent's key (docs/signing.md)",
        ));
    }
    let owner =
        arbiter_store::agent_tokens::authenticate(app.store.pool(), token, arbiter_store::now_ms())
            .await?
            .ok_or_else(invalid)?;
    Ok(Principal::Agent {
        name: owner.agent,
        key_id: owner.key_id,
        scope: crate::convert::agent_scope(owner.scope),
        limits: crate::convert::agent_limits(owner.limits),
    })
}

async fn authenticate_inner(
    app: &AppState,
    mut parts: axum::http::request::Parts,
    body: &mut Body,
) -> ApiResult<(Request, Option<crate::admission::Slot>)> {
    let path = parts.uri.path().to_string();
    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| path.clone());
    let get = |h: &'static str| parts.headers.get(h).and_then(|v| v.to_str().ok());
    // A signature in the deprecated form, to verify once the body is in.
    let mut legacy: Option<(SignatureHeaders, arbiter_api::PublicKey)> = None;
    let method = parts.method.as_str().to_string();
    let auth_header = get(header::AUTHORIZATION.as_str()).map(str::to_string);
    // Machines: workers (pool tokens) and state backend users (basic auth),
    // each on their own endpoints only.
    let mut machine_id: Option<String> = None;
    if let Some(auth) = auth_header.as_deref() {
        let bearer = auth
            .strip_prefix("Bearer ")
            .or_else(|| auth.strip_prefix("bearer "))
            .map(str::trim);
        if let Some(token) = bearer.filter(|t| t.starts_with(crate::runs::WORKER_TOKEN_PREFIX)) {
            if !is_worker_route(&method, &path) {
                return Err(ApiError::forbidden(
                    "a worker-pool token is accepted on the worker endpoints only",
                ));
            }
            let token_hash = crate::runs::hash(token);
            let pool = arbiter_store::runs::pool_of_token(app.store.pool(), &token_hash)
                .await?
                .ok_or_else(|| {
                    ApiError::new(
                        ErrorCode::InvalidToken,
                        "the worker-pool token is unknown or revoked",
                    )
                })?;
            machine_id = Some(format!("worker:{pool}"));
            parts.extensions.insert(Worker { pool, token_hash });
        } else if let Some(b64) = auth
            .strip_prefix("Basic ")
            .or_else(|| auth.strip_prefix("basic "))
        {
            if !is_backend_route(&path) {
                return Err(ApiError::new(
                    ErrorCode::Unauthenticated,
                    "basic authentication is accepted by the state backend only (/api/v1/stacks/NAME/tfstate)",
                ));
            }
            use base64::Engine;
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| {
                    ApiError::new(ErrorCode::InvalidCredentials, "malformed basic credentials")
                })?;
            let (user, pass) = decoded.split_once(':').ok_or_else(|| {
                ApiError::new(ErrorCode::InvalidCredentials, "malformed basic credentials")
            })?;
            let login = arbiter_store::runs::backend_login(
                app.store.pool(),
                user,
                &crate::runs::hash(pass),
            )
            .await?
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::InvalidCredentials,
                    "the state backend credentials are unknown or no longer valid",
                )
            })?;
            machine_id = Some(format!("backend:{user}"));
            parts.extensions.insert(BackendUser {
                stack: login.stack,
                run: login.run,
                username: user.to_string(),
                created_by: login.created_by,
                ended: login.ended,
            });
        }
    }
    let principal = if machine_id.is_some() {
        None
    } else if let Some(crate::mcp::ViaMcp(p)) = parts.extensions.get().cloned() {
        // An MCP tool's in-process request: the principal of the `/mcp`
        // request it serves, authenticated there.
        Some(p)
    } else if let Some(auth) = get(header::AUTHORIZATION.as_str()) {
        let token = auth
            .strip_prefix("Bearer ")
            .or_else(|| auth.strip_prefix("bearer "))
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::Unauthenticated,
                    "Authorization must be `Bearer TOKEN`",
                )
            })?
            .trim();
        let found = arbiter_store::principals::authenticate_token(
            app.store.pool(),
            token,
            arbiter_store::now_ms(),
        )
        .await?;
        match found {
            Some((user, token_id)) => Some(Principal::User {
                name: user.name,
                role: user.role,
                token_id: Some(token_id),
            }),
            None => Some(agent_token(app, &path, token).await?),
        }
    } else if get(arbiter_api::HEADER_SIGNATURE).is_some()
        || get(arbiter_api::HEADER_KEY_ID).is_some()
    {
        let h = SignatureHeaders::from_lookup(get).map_err(signature_error)?;
        let now = arbiter_store::now_ms() / 1000;
        h.check_clock(now).map_err(signature_error)?;
        let key = arbiter_store::principals::find_key(app.store.pool(), &h.key_id)
            .await?
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::UnknownKey,
                    format!("no agent has key {}", h.key_id),
                )
            })?;
        if key.revoked {
            return Err(ApiError::new(
                ErrorCode::RevokedKey,
                format!("key {} of agent {} is revoked", h.key_id, key.agent),
            ));
        }
        match &h.content_sha256 {
            Some(digest) => {
                // Every signed value is in the headers: verify now, before
                // the body, which is then read against the digest.
                h.verify_digest(
                    &key.public_key,
                    parts.method.as_str(),
                    &path_and_query,
                    digest,
                )
                .map_err(signature_error)?;
                record_nonce(app, &h.key_id, &h.nonce).await?;
            }
            None => {
                app.admission.legacy_signature(&key.agent, &h.key_id);
                legacy = Some((h.clone(), key.public_key.clone()));
            }
        }
        Some(Principal::Agent {
            name: key.agent,
            key_id: h.key_id,
            scope: crate::convert::agent_scope(key.scope),
            limits: crate::convert::agent_limits(key.limits),
        })
    } else if crate::ui::is_ui_path(&path) {
        // Cookies authenticate UI pages only: their forms carry a CSRF
        // token, the JSON API does not.
        crate::session::from_cookie(app, &parts.headers).await?
    } else {
        None
    };
    if principal.is_none()
        && machine_id.is_none()
        && !is_public(&path)
        && !crate::ui::is_ui_path(&path)
    {
        return Err(ApiError::new(
            ErrorCode::Unauthenticated,
            "send `Authorization: Bearer TOKEN`, or sign the request as an agent (docs/signing.md)",
        ));
    }
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let who = principal
        .as_ref()
        .map(Principal::id)
        .or_else(|| machine_id.clone())
        .unwrap_or_else(|| "anonymous".into());
    let bundle_upload = method == "PUT" && path.starts_with("/api/v1/bundles/");
    let signed = match &principal {
        Some(Principal::Agent { key_id, .. }) => {
            let digest = get(arbiter_api::HEADER_CONTENT_SHA256).map(str::trim);
            digest.map(|d| (d.to_string(), key_id.clone()))
        }
        _ => None,
    };
    let intake = crate::intake::Intake {
        declared,
        limit: if principal.is_some() && bundle_upload {
            app.config.bundle_max_bytes
        } else if principal.is_some() || machine_id.is_some() {
            app.config.max_body_bytes
        } else {
            crate::intake::ANONYMOUS_BODY_LIMIT
        },
        principal: &who,
        digest: signed.as_ref().map(|(d, k)| (d.as_str(), k.as_str())),
    };
    let (bytes, slot) = crate::intake::read(app, body, intake).await?;
    if let Some((h, key)) = legacy {
        h.verify(&key, parts.method.as_str(), &path_and_query, &bytes)
            .map_err(signature_error)?;
        record_nonce(app, &h.key_id, &h.nonce).await?;
    }
    if let Some(p) = principal {
        // Who (never how: no token, no signature), inside the request's span.
        tracing::debug!(principal = %p.id(), bytes = bytes.len(), "authenticated");
        parts.extensions.insert(p);
    }
    Ok((Request::from_parts(parts, Body::from(bytes)), slot))
}
