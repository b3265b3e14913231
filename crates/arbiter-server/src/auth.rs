//! Who is calling: a person with a bearer token (or a web session), or an
//! agent with a signed request (`ARBITER-SIG-V1`, see arbiter_api::signing).
//!
//! The middleware buffers the body (within the size limit) because an
//! agent's signature covers it, checks the credentials, records the nonce of
//! a signed request (so it can never be replayed, on any replica), and puts
//! the [`Principal`] into the request's extensions.

use crate::error::{ApiError, ApiResult};
use crate::AppState;
use arbiter_api::{AgentLimits, AgentScope, Role, SignatureHeaders, SigningError};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
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

/// Paths anyone may call.
pub fn is_public(path: &str) -> bool {
    matches!(
        path,
        "/healthz" | "/metrics" | "/api/v1/openapi.json" | "/api/v1/audit/key"
    )
}

fn signature_error(e: SigningError) -> ApiError {
    ApiError::unauthorized(e.code(), e.to_string())
}

/// The authentication middleware.
pub async fn authenticate(State(app): State<AppState>, req: Request, next: Next) -> Response {
    match authenticate_inner(&app, req).await {
        Ok(req) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

async fn authenticate_inner(app: &AppState, req: Request) -> ApiResult<Request> {
    let (mut parts, body) = req.into_parts();
    let limit = app.config.max_body_bytes;
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the request body is larger than the server's limit of {limit} bytes"),
        )
    })?;
    let path = parts.uri.path().to_string();
    let get = |h: &'static str| parts.headers.get(h).and_then(|v| v.to_str().ok());
    let principal = if let Some(auth) = get(header::AUTHORIZATION.as_str()) {
        let token = auth
            .strip_prefix("Bearer ")
            .or_else(|| auth.strip_prefix("bearer "))
            .ok_or_else(|| {
                ApiError::unauthorized("unauthenticated", "Authorization must be `Bearer TOKEN`")
            })?
            .trim();
        let found = arbiter_store::principals::authenticate_token(
            app.store.pool(),
            token,
            arbiter_store::now_ms(),
        )
        .await?;
        let (user, token_id) = found.ok_or_else(|| {
            ApiError::unauthorized("invalid_token", "the token is unknown, revoked or expired")
        })?;
        Some(Principal::User {
            name: user.name,
            role: user.role,
            token_id: Some(token_id),
        })
    } else if get(arbiter_api::HEADER_SIGNATURE).is_some()
        || get(arbiter_api::HEADER_KEY_ID).is_some()
    {
        let h = SignatureHeaders::from_lookup(get).map_err(signature_error)?;
        let now = arbiter_store::now_ms() / 1000;
        h.check_clock(now).map_err(signature_error)?;
        let key = arbiter_store::principals::find_key(app.store.pool(), &h.key_id)
            .await?
            .ok_or_else(|| {
                ApiError::unauthorized("unknown_key", format!("no agent has key {}", h.key_id))
            })?;
        if key.revoked {
            return Err(ApiError::unauthorized(
                "revoked_key",
                format!("key {} of agent {} is revoked", h.key_id, key.agent),
            ));
        }
        let pq = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or(&path);
        h.verify(&key.public_key, parts.method.as_str(), pq, &bytes)
            .map_err(signature_error)?;
        let replay = || {
            ApiError::unauthorized(
                "replayed_nonce",
                format!("nonce {} was used before with key {}", h.nonce, h.key_id),
            )
        };
        let (kid, nonce) = (h.key_id.clone(), h.nonce.clone());
        let fresh = app
            .store
            .write(move |cx| {
                Box::pin(
                    async move { arbiter_store::principals::use_nonce(cx, &kid, &nonce).await },
                )
            })
            .await?;
        if !fresh {
            return Err(replay());
        }
        Some(Principal::Agent {
            name: key.agent,
            key_id: h.key_id,
            scope: key.scope,
            limits: key.limits,
        })
    } else if crate::ui::is_ui_path(&path) {
        // Cookies authenticate UI pages only: their forms carry a CSRF
        // token, the JSON API does not.
        crate::session::from_cookie(app, &parts.headers).await?
    } else {
        None
    };
    match principal {
        Some(p) => {
            parts.extensions.insert(p);
        }
        None if is_public(&path) || crate::ui::is_ui_path(&path) => {}
        None => return Err(ApiError::unauthorized(
            "unauthenticated",
            "send `Authorization: Bearer TOKEN`, or sign the request as an agent (docs/signing.md)",
        )),
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}
