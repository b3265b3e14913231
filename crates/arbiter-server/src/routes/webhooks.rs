//! Webhook subscriptions and their delivery log. Admins manage them; people
//! of any role read them, without secrets (and, unless admin, without the
//! URL's path, which for services like Slack is a credential).

use super::parse_json;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::AppState;
use arbiter_api::{
    check_event_pattern, url_origin, Delivery, DeliveryStatus, ErrorCode, Page, Role, Webhook,
    WebhookFormat, WebhookSpec, WEBHOOK_FORMATS,
};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::{Extension, Json};

/// Longest URL accepted.
const MAX_URL: usize = 2048;
/// Most patterns per subscription.
const MAX_PATTERNS: usize = 50;

/// Checks a URL: `http[s]://HOST[:PORT][/PATH]`, no spaces or control
/// characters, no user information.
pub fn check_url(url: &str) -> Result<(), String> {
    if url.len() > MAX_URL {
        return Err(format!(
            "url is {} characters; at most {MAX_URL}",
            url.len()
        ));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("url must not contain spaces or control characters".into());
    }
    let rest = if let Some(r) = url.strip_prefix("https://") {
        r
    } else if let Some(r) = url.strip_prefix("http://") {
        r
    } else {
        return Err(format!(
            "url {:?} must start with https:// or http://",
            url_origin(url)
        ));
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    if authority.contains('@') {
        return Err("url must not contain user information (user:password@)".into());
    }
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((h, rest)) => (h, rest.strip_prefix(':')),
            None => return Err("url has an unclosed [ in its host".into()),
        },
        None => match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        },
    };
    if let Some(port) = port {
        if port.parse::<u16>().map_or(true, |p| p == 0) {
            return Err(format!("url port {port:?} must be 1-65535"));
        }
    }
    if host.is_empty() {
        return Err("url needs a host".into());
    }
    if reqwest::Url::parse(url).is_err() {
        return Err(format!("url {:?} does not parse", url_origin(url)));
    }
    Ok(())
}

fn check_spec(spec: &WebhookSpec) -> ApiResult<(WebhookFormat, String)> {
    check_url(&spec.url).map_err(ApiError::invalid)?;
    if spec.events.is_empty() || spec.events.len() > MAX_PATTERNS {
        return Err(ApiError::invalid(format!(
            "events must list 1-{MAX_PATTERNS} patterns (`*` for every event)"
        )));
    }
    for p in &spec.events {
        check_event_pattern(p).map_err(ApiError::invalid)?;
    }
    let format: WebhookFormat = match spec.format.as_deref() {
        None => WebhookFormat::default(),
        Some(f) => f.parse().map_err(|_| {
            ApiError::invalid(format!(
                "format {f:?} must be one of {}",
                WEBHOOK_FORMATS.join(", ")
            ))
        })?,
    };
    if let Some(d) = &spec.description {
        if d.chars().count() > 500 {
            return Err(ApiError::invalid(
                "description must be at most 500 characters",
            ));
        }
    }
    let secret = match &spec.secret {
        Some(s) => {
            // Do not echo the secret in the message.
            let ok = (16..=256).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_graphic());
            if !ok {
                return Err(ApiError::invalid(
                    "secret must be 16-256 printable ASCII characters without spaces",
                ));
            }
            s.clone()
        }
        None => {
            let mut b = [0u8; 32];
            getrandom::fill(&mut b).map_err(ApiError::internal)?;
            format!("whsec_{}", hex::encode(b))
        }
    };
    Ok((format, secret))
}

fn shown(p: &Principal, mut w: Webhook) -> Webhook {
    if p.role() != Some(Role::Admin) {
        w.url = url_origin(&w.url);
    }
    w.secret = None;
    w
}

fn parse_id(id: &str) -> ApiResult<i64> {
    id.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| ApiError::not_found(format!("webhook {id:?} not found")))
}

async fn existing(app: &AppState, id: &str) -> ApiResult<Webhook> {
    let n = parse_id(id)?;
    arbiter_store::webhooks::get(app.store.pool(), n)
        .await?
        .map(crate::convert::webhook)
        .ok_or_else(|| ApiError::not_found(format!("webhook {id:?} not found")))
}

/// `POST /api/v1/webhooks` (admin): the answer carries the secret, once.
pub async fn create(
    State(app): State<AppState>,
    Extension(p): Extension<Principal>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Webhook>)> {
    p.require(Role::Admin)?;
    let spec: WebhookSpec = parse_json(&body)?;
    let (format, secret) = check_spec(&spec)?;
    if app.config.webhooks.deny_private {
        crate::egress::check_literal(&spec.url)
            .map_err(|r| ApiError::invalid(format!("url: {r}")))?;
    }
    let new = arbiter_store::webhooks::NewWebhook {
        url: spec.url,
        events: spec.events,
        format,
        secret,
        description: spec.description,
    };
    let actor = p.id();
    let w = app
        .store
        .write(move |cx| {
            Box::pin(async move { arbiter_store::webhooks::create(cx, &new, &actor).await })
        })
        .await?;
    Ok((StatusCode::CREATED, Json(crate::convert::webhook(w))))
}

/// `GET /api/v1/webhooks` (people).
pub async fn list(
    State(app): State<AppState>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<Page<Webhook>>> {
    p.require(Role::Viewer)?;
    let items = arbiter_store::webhooks::list(app.store.pool())
        .await?
        .into_iter()
        .map(|w| shown(&p, crate::convert::webhook(w)))
        .collect();
    Ok(Json(Page { items }))
}

/// `GET /api/v1/webhooks/{id}` (people), with delivery counts.
pub async fn show(
    State(app): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<Webhook>> {
    p.require(Role::Viewer)?;
    Ok(Json(shown(&p, existing(&app, &id).await?)))
}

/// `DELETE /api/v1/webhooks/{id}` (admin): pending deliveries are cancelled.
pub async fn delete(
    State(app): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    p.require(Role::Admin)?;
    let n = parse_id(&id)?;
    let actor = p.id();
    app.store
        .write(move |cx| {
            Box::pin(async move { arbiter_store::webhooks::delete(cx, n, &actor).await })
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Query of the delivery log.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveriesQuery {
    /// Only deliveries in this state.
    status: Option<String>,
    /// Newest this many (default 100, at most 1000).
    limit: Option<i64>,
}

/// `GET /api/v1/webhooks/{id}/deliveries` (people): newest first, each with
/// its attempts; the log of a deleted subscription stays readable.
pub async fn deliveries(
    State(app): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    Query(q): Query<DeliveriesQuery>,
) -> ApiResult<Json<Page<Delivery>>> {
    p.require(Role::Viewer)?;
    let n = parse_id(&id)?;
    if !arbiter_store::webhooks::ever_existed(app.store.pool(), n).await? {
        return Err(ApiError::not_found(format!("webhook {id:?} not found")));
    }
    let status = q
        .status
        .as_deref()
        .map(str::parse::<DeliveryStatus>)
        .transpose()
        .map_err(|e| ApiError::new(ErrorCode::InvalidQuery, e.to_string()))?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::new(
            ErrorCode::InvalidQuery,
            format!("limit={limit} must be 1-1000"),
        ));
    }
    let items = arbiter_store::webhooks::deliveries(app.store.pool(), n, status, limit)
        .await?
        .into_iter()
        .map(crate::convert::delivery)
        .collect();
    Ok(Json(Page { items }))
}

/// `POST /api/v1/webhooks/{id}/test` (admin): records a `webhook.ping`
/// event delivered to this subscription only; answers 202 with the
/// delivery's id (follow it in the delivery log).
pub async fn test(
    State(app): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<arbiter_api::WebhookTest>)> {
    p.require(Role::Admin)?;
    let n = parse_id(&id)?;
    let actor = p.id();
    let delivery = app
        .store
        .write(move |cx| {
            Box::pin(async move { arbiter_store::webhooks::ping(cx, n, &actor).await })
        })
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(arbiter_api::WebhookTest {
            delivery,
            event: arbiter_api::PING_EVENT.to_string(),
            webhook: n,
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_with_reasons() {
        assert!(check_url("http://127.0.0.1:9000/hook").is_ok());
        assert!(check_url("http://receiver.internal/a?b=c").is_ok());
        assert!(check_url("http://[::1]:8080/x").is_ok());
        assert!(check_url("http://[::1]/x").is_ok());
        assert!(check_url("https://hooks.slack.com/services/T0/B0/X").is_ok());
        for (bad, why) in [
            ("ftp://x/", "must start with https:// or http://"),
            ("https://u:p@host/", "user information"),
            ("http://u:p@host/", "user information"),
            ("http://host:0/", "1-65535"),
            ("http://host:99999/", "1-65535"),
            ("http:///path", "needs a host"),
            ("http://host/a b", "spaces"),
        ] {
            let e = check_url(bad).err().unwrap_or_default();
            assert!(e.contains(why), "{bad}: {e}");
        }
        assert!(check_url(&format!("http://h/{}", "a".repeat(3000))).is_err());
    }
}
