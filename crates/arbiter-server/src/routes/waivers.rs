//! Waivers of a stack (`/api/v1/stacks/{name}/waivers`): reviewers and
//! admins create and revoke them; people read them, and so do agents whose
//! scope covers the stack (an agent can then tell why a finding of its plan
//! did not hold it, but cannot waive anything).
//!
//! A waiver is checked when it is created: every field says something
//! (`arbiter_judge::Waiver::validate`), the expiry is a date or an RFC 3339
//! time in the future, at most [`MAX_DAYS`] days ahead: waivers are meant to
//! be revisited, so a longer acceptance is a new waiver made when this one
//! ends. Revoking is idempotent: a revoked waiver answers as it is, and only
//! the first revocation is audited.
//!
//! The judge sees a stack's unrevoked waivers (expired ones too, so the
//! verdict says that a waiver expired) at each evaluation: creating or
//! revoking one changes later evaluations only, never a verdict already
//! given.

use super::parse_json;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::AppState;
use arbiter_api::{ErrorCode, Page, Role, Stack, Waiver, WaiverSpec};
use arbiter_judge::waiver::Expiry;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use chrono::{DateTime, Utc};

/// Farthest expiry accepted, in days from today (UTC).
pub const MAX_DAYS: i64 = 366;

/// Most unrevoked waivers one stack may have.
pub const MAX_PER_STACK: usize = 500;

/// Checks a waiver to create at `now`; the answer is the judge's waiver
/// (canonical expiry) or a message naming the field.
pub fn check(spec: &WaiverSpec, now: DateTime<Utc>) -> Result<arbiter_judge::Waiver, String> {
    let expires = Expiry::parse(&spec.expires)?;
    let w = arbiter_judge::Waiver {
        id: None,
        rule: spec.rule.trim().to_string(),
        address: spec.address.trim().to_string(),
        reason: spec.reason.trim().to_string(),
        owner: spec.owner.trim().to_string(),
        expires,
    };
    w.validate()?;
    if expires.expired_at(now) {
        return Err(format!(
            "expires {expires} is in the past: a waiver must end in the future"
        ));
    }
    let limit = now + chrono::Duration::days(MAX_DAYS);
    let too_far = match expires {
        Expiry::Day(d) => d > limit.date_naive(),
        Expiry::Instant(t) => t > limit,
    };
    if too_far {
        return Err(format!(
            "expires {expires} is more than {MAX_DAYS} days ahead: waivers are meant to be revisited; make a new one when this one ends"
        ));
    }
    Ok(w)
}

/// The stack, if the caller may see it (agents: only in their scope).
async fn visible_stack(app: &AppState, p: &Principal, name: &str) -> ApiResult<Stack> {
    arbiter_store::stacks::get(app.store.pool(), name)
        .await?
        .map(crate::convert::stack)
        .filter(|s| match p {
            Principal::User { .. } => true,
            Principal::Agent { scope, .. } => crate::lifecycle::stack_in_scope(scope, &s.spec),
        })
        .ok_or_else(|| ApiError::not_found(format!("stack {name:?} not found")))
}

/// Query of `GET /api/v1/stacks/{name}/waivers`.
#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Include revoked waivers.
    #[serde(default)]
    all: bool,
}

/// `GET /api/v1/stacks/{name}/waivers`: unrevoked waivers (expired ones
/// included, marked), oldest first; `?all=true` adds revoked ones.
pub async fn list(
    State(app): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Page<Waiver>>> {
    let stack = visible_stack(&app, &p, &name).await?;
    let items = arbiter_store::waivers::list(app.store.pool(), &stack.spec.name, q.all)
        .await
        .map(crate::convert::waivers)?;
    Ok(Json(Page { items }))
}

/// `POST /api/v1/stacks/{name}/waivers` (reviewer, admin): 201 with the
/// waiver.
pub async fn create(
    State(app): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Waiver>)> {
    p.require(Role::Reviewer)?;
    let spec: WaiverSpec = parse_json(&body)?;
    let stack = visible_stack(&app, &p, &name).await?;
    let w = check(&spec, Utc::now()).map_err(ApiError::invalid)?;
    let live = arbiter_store::waivers::list(app.store.pool(), &stack.spec.name, false).await?;
    if live.len() >= MAX_PER_STACK {
        return Err(ApiError::invalid(format!(
            "stack {name:?} has {} unrevoked waivers already (at most {MAX_PER_STACK}); revoke expired ones first",
            live.len()
        )));
    }
    let new = arbiter_store::waivers::NewWaiver {
        stack: stack.spec.name.clone(),
        rule: w.rule,
        address: w.address,
        reason: w.reason,
        owner: w.owner,
        expires: w.expires.to_string(),
        expires_at: w.expires.end().timestamp_millis(),
    };
    let actor = p.id();
    let created = app
        .store
        .write(move |cx| {
            Box::pin(async move { arbiter_store::waivers::create(cx, &new, &actor).await })
        })
        .await?;
    Ok((StatusCode::CREATED, Json(crate::convert::waiver(created))))
}

/// `DELETE /api/v1/stacks/{name}/waivers/{id}` (reviewer, admin): revokes
/// the waiver and answers it (200); a revoked waiver answers as it is.
pub async fn revoke(
    State(app): State<AppState>,
    Extension(p): Extension<Principal>,
    Path((name, id)): Path<(String, String)>,
) -> ApiResult<Json<Waiver>> {
    p.require(Role::Reviewer)?;
    let id: i64 = id.parse().map_err(|_| {
        ApiError::new(
            ErrorCode::InvalidId,
            format!("waiver id {id:?} must be a whole number"),
        )
    })?;
    let stack = visible_stack(&app, &p, &name).await?;
    let actor = p.id();
    let w = app
        .store
        .write(move |cx| {
            Box::pin(async move {
                arbiter_store::waivers::revoke(cx, &stack.spec.name, id, &actor).await
            })
        })
        .await?;
    Ok(Json(crate::convert::waiver(w)))
}

/// The waivers the judge applies to a stack's evaluations: the unrevoked
/// ones, expired ones included (the verdict then says they expired). A
/// stored expiry that no longer parses drops its waiver (the findings then
/// count, which is the safe side).
pub async fn for_judge(app: &AppState, stack: &str) -> ApiResult<Vec<arbiter_judge::Waiver>> {
    let rows = arbiter_store::waivers::list(app.store.pool(), stack, false).await?;
    let mut out = Vec::with_capacity(rows.len());
    for w in rows {
        match Expiry::parse(&w.expires) {
            Ok(expires) => out.push(arbiter_judge::Waiver {
                id: Some(w.id.to_string()),
                rule: w.rule,
                address: w.address,
                reason: w.reason,
                owner: w.owner,
                expires,
            }),
            Err(e) => tracing::warn!(stack, waiver = w.id, error = %e, "stored waiver ignored"),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(expires: &str) -> WaiverSpec {
        WaiverSpec {
            rule: "ARB-AWS-EC2-001".into(),
            address: "*".into(),
            reason: "legacy host".into(),
            owner: "team-web".into(),
            expires: expires.into(),
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    }

    #[test]
    fn expiry_must_be_ahead_but_not_more_than_a_year() {
        let now = at("2026-12-06T14:00:00Z");
        assert!(
            check(&spec("2026-12-06"), now).is_ok(),
            "today counts in full"
        );
        let e = check(&spec("2026-12-05"), now).err().unwrap_or_default();
        assert!(e.contains("in the past"), "{e}");
        let e = check(&spec("2026-12-06T13:00:00Z"), now)
            .err()
            .unwrap_or_default();
        assert!(e.contains("in the past"), "{e}");
        assert!(check(&spec("2027-12-07"), now).is_ok(), "366 days ahead");
        let e = check(&spec("2027-12-08"), now).err().unwrap_or_default();
        assert!(e.contains("366 days") && e.contains("revisited"), "{e}");
        let e = check(&spec("next week"), now).err().unwrap_or_default();
        assert!(e.starts_with("expires"), "{e}");
        let mut s = spec("2027-01-01");
        s.owner = "  ".into();
        let e = check(&s, now).err().unwrap_or_default();
        assert!(e.starts_with("owner"), "{e}");
        let w = check(&spec("2027-01-01T10:00:00+02:00"), now);
        assert_eq!(
            w.map(|w| w.expires.to_string()).unwrap_or_default(),
            "2027-01-01T08:00:00Z"
        );
    }
}
