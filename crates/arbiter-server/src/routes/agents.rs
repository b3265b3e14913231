//! Agents: identities with an Ed25519 key, a scope and velocity limits.

use super::{check_name, parse_json};
use crate::auth::Principal;
use crate::convert;
use crate::error::{ApiError, ApiResult};
use crate::AppState;
use arbiter_api::{
    Agent, AgentLimits, AgentScope, AgentSpec, AgentUpdate, Page, PublicKey, Role, ScopeAction,
};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};

/// An action the API does not know is a value to fix (422, naming the
/// accepted ones), not malformed JSON (400): checked before the body is
/// read as a typed [`AgentSpec`] or [`AgentUpdate`], whose
/// [`ScopeAction`] field refuses it.
fn check_actions(body: &[u8]) -> ApiResult<()> {
    #[derive(serde::Deserialize)]
    struct Body<'a> {
        #[serde(borrow, default)]
        scope: Option<Scope<'a>>,
    }
    #[derive(serde::Deserialize)]
    struct Scope<'a> {
        #[serde(borrow, default)]
        actions: Option<Vec<std::borrow::Cow<'a, str>>>,
    }
    match serde_json::from_slice::<Body>(body) {
        Ok(Body {
            scope: Some(Scope {
                actions: Some(actions),
            }),
        }) => match actions.iter().find(|a| a.parse::<ScopeAction>().is_err()) {
            Some(a) => Err(ApiError::invalid(format!(
                "scope.actions: {a:?} is not one of {}",
                ScopeAction::NAMES
            ))),
            None => Ok(()),
        },
        // Absent, or not strings or not JSON: the typed parse says what is wrong.
        _ => Ok(()),
    }
}

/// Checks a scope's values.
pub fn validate_scope(s: &AgentScope) -> ApiResult<()> {
    if s.resource_types.is_empty() {
        return Err(ApiError::invalid(
            "scope.resource_types: empty; use [\"*\"] for every type",
        ));
    }
    s.check_ranges()
        .map_err(|e| ApiError::invalid(e.to_string()))?;
    Ok(())
}

fn validate_limits(l: &AgentLimits) -> ApiResult<()> {
    l.check_ranges()
        .map_err(|e| ApiError::invalid(e.to_string()))
}

fn parse_key(text: &str) -> ApiResult<PublicKey> {
    PublicKey::parse(text).map_err(|e| ApiError::invalid(format!("public_key: {e}")))
}

/// `GET /api/v1/agents`.
pub async fn list(
    State(app): State<AppState>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<Page<Agent>>> {
    p.require(Role::Viewer)?;
    Ok(Json(Page {
        items: convert::agents(arbiter_store::principals::list_agents(app.store.pool()).await?),
    }))
}

/// `POST /api/v1/agents` (admin).
pub async fn create(
    State(app): State<AppState>,
    Extension(p): Extension<Principal>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Agent>)> {
    p.require(Role::Admin)?;
    check_actions(&body)?;
    let spec: AgentSpec = parse_json(&body)?;
    check_name("agent", &spec.name)?;
    validate_scope(&spec.scope)?;
    validate_limits(&spec.limits)?;
    let key = parse_key(&spec.public_key)?;
    let scope = convert::agent_scope_doc(spec.scope);
    let limits = convert::agent_limits_doc(spec.limits);
    let actor = p.id();
    let a = app
        .store
        .write(move |cx| {
            Box::pin(async move {
                arbiter_store::principals::create_agent(
                    cx,
                    &spec.name,
                    spec.description.clone(),
                    &key,
                    &scope,
                    &limits,
                    &actor,
                )
                .await
            })
        })
        .await?;
    Ok((StatusCode::CREATED, Json(convert::agent(a))))
}

/// `GET /api/v1/agents/{name}`: people, or the agent itself.
pub async fn show(
    State(app): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
) -> ApiResult<Json<Agent>> {
    if !matches!(&p, Principal::Agent { name: n, .. } if *n == name) {
        p.require(Role::Viewer)?;
    }
    arbiter_store::principals::get_agent(app.store.pool(), &name)
        .await?
        .map(|a| Json(convert::agent(a)))
        .ok_or_else(|| ApiError::not_found(format!("agent {name:?} not found")))
}

/// `PATCH /api/v1/agents/{name}` (admin).
pub async fn update(
    State(app): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Agent>> {
    p.require(Role::Admin)?;
    check_actions(&body)?;
    let up: AgentUpdate = parse_json(&body)?;
    if let Some(s) = &up.scope {
        validate_scope(s)?;
    }
    if let Some(l) = &up.limits {
        validate_limits(l)?;
    }
    let key = up.add_public_key.as_deref().map(parse_key).transpose()?;
    let change = convert::agent_change(up);
    let actor = p.id();
    let a = app
        .store
        .write(move |cx| {
            Box::pin(async move {
                arbiter_store::principals::update_agent(cx, &name, &change, key.as_ref(), &actor)
                    .await
            })
        })
        .await?;
    Ok(Json(convert::agent(a)))
}

/// `POST /api/v1/agents/{name}/revoke` (admin).
pub async fn revoke(
    State(app): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
) -> ApiResult<Json<Agent>> {
    p.require(Role::Admin)?;
    let actor = p.id();
    let a = app
        .store
        .write(move |cx| {
            Box::pin(
                async move { arbiter_store::principals::revoke_agent(cx, &name, &actor).await },
            )
        })
        .await?;
    Ok(Json(convert::agent(a)))
}

/// `POST /api/v1/agents/{name}/keys/{key_id}/revoke` (admin).
pub async fn revoke_key(
    State(app): State<AppState>,
    Extension(p): Extension<Principal>,
    Path((name, key_id)): Path<(String, String)>,
) -> ApiResult<Json<Agent>> {
    p.require(Role::Admin)?;
    let actor = p.id();
    let a = app
        .store
        .write(move |cx| {
            Box::pin(async move {
                arbiter_store::principals::revoke_key(cx, &name, &key_id, &actor).await
            })
        })
        .await?;
    Ok(Json(convert::agent(a)))
}
