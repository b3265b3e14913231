//! People and their API tokens.

use super::{check_name, parse_json};
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::AppState;
use arbiter_api::{Page, Role, Token, TokenSpec, User, UserSpec};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};

/// `GET /api/v1/users` (admin).
pub async fn list_users(
    State(app): State<AppState>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<Page<User>>> {
    p.require(Role::Admin)?;
    Ok(Json(Page {
        items: arbiter_store::principals::list_users(app.store.pool())
            .await?
            .into_iter()
            .map(crate::convert::user)
            .collect(),
    }))
}

/// `POST /api/v1/users` (admin).
pub async fn create_user(
    State(app): State<AppState>,
    Extension(p): Extension<Principal>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<User>)> {
    p.require(Role::Admin)?;
    let spec: UserSpec = parse_json(&body)?;
    check_name("user", &spec.name)?;
    let hash = match &spec.password {
        Some(pw) if pw.chars().count() < crate::password::MIN_LENGTH => {
            return Err(ApiError::invalid(format!(
                "a password needs at least {} characters",
                crate::password::MIN_LENGTH
            )))
        }
        Some(pw) => {
            let pw = pw.clone();
            Some(
                tokio::task::spawn_blocking(move || crate::password::hash(&pw))
                    .await
                    .map_err(ApiError::internal)?
                    .map_err(ApiError::internal)?,
            )
        }
        None => None,
    };
    let actor = p.id();
    let u = app
        .store
        .write(move |cx| {
            Box::pin(async move {
                arbiter_store::principals::create_user(cx, &spec.name, spec.role, hash, &actor)
                    .await
            })
        })
        .await?;
    Ok((StatusCode::CREATED, Json(crate::convert::user(u))))
}

fn user_name(p: &Principal) -> ApiResult<&str> {
    match p {
        Principal::User { name, .. } => Ok(name),
        Principal::Agent { .. } => Err(ApiError::forbidden(
            "agents sign requests; they have no tokens",
        )),
    }
}

/// `GET /api/v1/tokens`: one's own tokens; an admin sees everyone's.
pub async fn list_tokens(
    State(app): State<AppState>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<Page<Token>>> {
    let me = user_name(&p)?;
    let filter = if p.role() == Some(Role::Admin) {
        None
    } else {
        Some(me)
    };
    Ok(Json(Page {
        items: arbiter_store::principals::list_tokens(app.store.pool(), filter)
            .await?
            .into_iter()
            .map(crate::convert::token)
            .collect(),
    }))
}

/// `POST /api/v1/tokens`: for oneself, or (admin) for another user.
pub async fn create_token(
    State(app): State<AppState>,
    Extension(p): Extension<Principal>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Token>)> {
    let me = user_name(&p)?.to_string();
    let spec: TokenSpec = if body.is_empty() {
        TokenSpec {
            user: None,
            label: None,
            expires_in_seconds: None,
        }
    } else {
        parse_json(&body)?
    };
    let user = spec.user.clone().unwrap_or(me.clone());
    if user != me {
        p.require(Role::Admin)?;
    }
    if arbiter_store::principals::get_user(app.store.pool(), &user)
        .await?
        .is_none()
    {
        return Err(ApiError::not_found(format!("user {user:?} not found")));
    }
    spec.check_ranges()
        .map_err(|e| ApiError::invalid(e.to_string()))?;
    let actor = p.id();
    let t = app
        .store
        .write(move |cx| {
            Box::pin(async move {
                arbiter_store::principals::create_token(
                    cx,
                    &user,
                    spec.label,
                    spec.expires_in_seconds,
                    &actor,
                )
                .await
            })
        })
        .await?;
    Ok((StatusCode::CREATED, Json(crate::convert::token(t))))
}

/// `DELETE /api/v1/tokens/{id}`: one's own, or (admin) anyone's.
pub async fn revoke_token(
    State(app): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let me = user_name(&p)?.to_string();
    let t = arbiter_store::principals::get_token(app.store.pool(), &id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("token {id:?} not found")))?;
    if t.user != me {
        p.require(Role::Admin)?;
    }
    let actor = p.id();
    app.store
        .write(move |cx| {
            Box::pin(async move { arbiter_store::principals::revoke_token(cx, &id, &actor).await })
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
