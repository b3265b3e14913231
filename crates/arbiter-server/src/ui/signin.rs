//! Signing in (password or API token) and out.

use super::{document, see_other, Nav, UiError, UiResult, LOGO};
use crate::auth::Principal;
use crate::session::{self, LOGIN_COOKIE, LOGIN_COOKIE_SECURE};
use crate::AppState;
use arbiter_report::html::Html;
use arbiter_store::sessions::SignIn;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, Extensions, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use std::net::{IpAddr, SocketAddr};
use std::sync::OnceLock;

/// Query of the sign-in page.
#[derive(serde::Deserialize, Default)]
pub(crate) struct FormQuery {
    next: Option<String>,
}

/// Where to go after signing in: one of our pages, never another site.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.contains('\\')
                && !n.chars().any(|c| c.is_control())
                && super::is_ui_path(n.split(['?', '#']).next().unwrap_or(n))
                && !n.starts_with("/login")
                && !n.starts_with("/logout") =>
        {
            n.to_string()
        }
        _ => "/".to_string(),
    }
}

fn random_hex() -> Result<String, UiError> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| UiError::from(crate::error::ApiError::internal(e)))?;
    Ok(hex::encode(b))
}

/// The sign-in page (with a fresh double-submit token in a cookie).
fn render(
    headers: &HeaderMap,
    status: StatusCode,
    next: &str,
    error: Option<&str>,
    username: &str,
) -> UiResult {
    let token = random_hex()?;
    let mut h = Html::new();
    h.raw("<div class=\"signin-box\"><div class=\"brand\">")
        .raw(LOGO)
        .raw("Arbiter</div><div class=\"card\"><h1>Sign in</h1><p class=\"muted\">to review the changes that wait for a person.</p>");
    if let Some(e) = error {
        super::notice(&mut h, "bad", e);
    }
    let hidden = |h: &mut Html, method: &'static str| {
        h.raw("<input type=\"hidden\" name=\"csrf\" value=\"")
            .text(&token)
            .raw("\"><input type=\"hidden\" name=\"next\" value=\"")
            .text(next)
            .raw("\"><input type=\"hidden\" name=\"method\" value=\"")
            .raw(method)
            .raw("\">");
    };
    h.raw("<form method=\"post\" action=\"/login\" id=\"password-form\">");
    hidden(&mut h, "password");
    h.raw("<label for=\"username\">User name</label><input id=\"username\" name=\"username\" type=\"text\" autocomplete=\"username\" required autofocus value=\"")
        .text(username)
        .raw("\"><label for=\"password\">Password</label><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required><p></p><button class=\"btn btn-primary\" type=\"submit\">Sign in</button></form>");
    h.raw("<p class=\"or\">or with an API token</p><form method=\"post\" action=\"/login\" id=\"token-form\">");
    hidden(&mut h, "token");
    h.raw("<label for=\"token\">API token</label><input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"off\" placeholder=\"arb_…\" required><p></p><button class=\"btn btn-primary\" type=\"submit\">Sign in with a token</button></form>");
    h.raw("<p class=\"small\">The first <code>arbiter serve</code> prints the admin's token. An admin gives people a password with <code>arbiter user create NAME --role reviewer --password-env VAR</code>, or a token with <code>arbiter token create</code>.</p></div></div>");
    let doc = document(None, Nav::None, "Sign in", None, &h.finish())
        .0
        .replacen("<body>", "<body class=\"signin\">", 1);
    let mut r = (status, axum::response::Html(doc)).into_response();
    r.headers_mut().append(
        header::SET_COOKIE,
        session::set_cookie(
            session::is_https(headers),
            LOGIN_COOKIE,
            LOGIN_COOKIE_SECURE,
            &token,
            3600,
        ),
    );
    Ok(r)
}

/// `GET /login`.
pub(crate) async fn form(
    headers: HeaderMap,
    ext: Extensions,
    Query(q): Query<FormQuery>,
) -> UiResult {
    let next = safe_next(q.next.as_deref());
    if matches!(ext.get::<Principal>(), Some(Principal::User { .. })) {
        return Ok(see_other(&next));
    }
    render(&headers, StatusCode::OK, &next, None, "")
}

/// The sign-in form.
#[derive(serde::Deserialize)]
struct SignInForm {
    csrf: String,
    method: String,
    #[serde(default)]
    next: Option<String>,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    token: String,
}

/// A hash to verify against when the user does not exist, so that an
/// unknown name takes as long as a wrong password.
fn dummy_hash() -> &'static str {
    static H: OnceLock<String> = OnceLock::new();
    H.get_or_init(|| crate::password::hash("no such user, no such password").unwrap_or_default())
}

/// `POST /login`.
pub(crate) async fn submit(
    State(app): State<AppState>,
    headers: HeaderMap,
    ext: Extensions,
    body: Bytes,
) -> UiResult {
    if let Some(why) = session::cross_origin(&headers) {
        return Err(UiError::new(
            StatusCode::FORBIDDEN,
            format!("Refused: {why}."),
        ));
    }
    let f: SignInForm = super::form(&body)?;
    let next = safe_next(f.next.as_deref());
    let expected = session::cookie(&headers, LOGIN_COOKIE_SECURE)
        .or_else(|| session::cookie(&headers, LOGIN_COOKIE));
    if !expected.is_some_and(|e| session::same_secret(e, &f.csrf)) {
        return render(
            &headers,
            StatusCode::FORBIDDEN,
            &next,
            Some("The sign-in form expired or did not come from this site (cookies must be enabled). Try again."),
            &f.username,
        );
    }
    let peer = ext
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::from([0, 0, 0, 0]));
    let ip = crate::throttle::client_ip(peer, &headers, &app.config.trusted_proxies);
    let now = arbiter_store::now_ms();
    // The attempt counts before the password is checked (the hash is slow:
    // concurrent guesses must not all pass a check made before it).
    let account = (f.method == "password").then(|| f.username.trim().to_string());
    let counted = match app.ui.limiter.lock() {
        Ok(mut l) => l.attempt(&app.config.sign_in, ip, account.as_deref(), now),
        Err(_) => Err(crate::throttle::Limited(60)),
    };
    let wait = match counted {
        Ok(wait) => wait,
        Err(crate::throttle::Limited(secs)) => {
            tracing::info!(method = %f.method, "sign-in limited");
            let mut r = render(
                &headers,
                StatusCode::TOO_MANY_REQUESTS,
                &next,
                Some(&format!(
                    "Too many failed sign-ins from your address; try again in {secs} s."
                )),
                &f.username,
            )?;
            if let Ok(v) = axum::http::HeaderValue::from_str(&secs.to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return Ok(r);
        }
    };
    // Growing delays for an account that keeps failing (never a lockout).
    if !wait.is_zero() {
        tokio::time::sleep(wait).await;
    }
    let found: Option<(String, SignIn, Option<String>)> = match f.method.as_str() {
        "password" => {
            let stored =
                arbiter_store::principals::password_hash(app.store.pool(), f.username.trim())
                    .await?;
            let password = f.password.clone();
            let (user, hash) = match stored {
                Some((u, h)) => (Some(u), Some(h)),
                None => (None, None),
            };
            let ok = tokio::task::spawn_blocking(move || {
                let hash = hash.as_deref().unwrap_or_else(|| dummy_hash());
                crate::password::verify(&password, hash)
            })
            .await
            .map_err(crate::error::ApiError::internal)?;
            match user {
                Some(u) if ok => Some((u.name, SignIn::Password, None)),
                _ => None,
            }
        }
        "token" => {
            arbiter_store::principals::authenticate_token(app.store.pool(), f.token.trim(), now)
                .await?
                .map(|(u, id)| (u.name, SignIn::Token, Some(id)))
        }
        other => {
            return Err(UiError::new(
                StatusCode::BAD_REQUEST,
                format!("unknown sign-in method {other:?}"),
            ))
        }
    };
    let Some((user, method, token_id)) = found else {
        tracing::info!(method = %f.method, "sign-in refused");
        let msg = if f.method == "password" {
            "Wrong user name or password (or this user has no password)."
        } else {
            "This token is unknown, revoked or expired."
        };
        return render(
            &headers,
            StatusCode::UNAUTHORIZED,
            &next,
            Some(msg),
            &f.username,
        );
    };
    if let Ok(mut l) = app.ui.limiter.lock() {
        l.succeeded(ip, account.as_deref());
    }
    let ttl = app.config.session_ttl.as_millis().min(i64::MAX as u128) as i64;
    let made = app
        .store
        .write(move |cx| {
            Box::pin(async move {
                arbiter_store::sessions::create(cx, &user, method, token_id.as_deref(), ttl).await
            })
        })
        .await?;
    let https = session::is_https(&headers);
    let mut r = see_other(&next);
    let h = r.headers_mut();
    h.append(
        header::SET_COOKIE,
        session::set_cookie(
            https,
            session::COOKIE,
            session::COOKIE_SECURE,
            &made.secret,
            (ttl / 1000).max(1) as u64,
        ),
    );
    h.append(
        header::SET_COOKIE,
        session::set_cookie(https, LOGIN_COOKIE, LOGIN_COOKIE_SECURE, "", 0),
    );
    Ok(r)
}

/// The sign-out form.
#[derive(serde::Deserialize)]
struct SignOutForm {
    csrf: String,
}

/// `POST /logout`: deletes the session and its cookie.
pub(crate) async fn logout(
    State(app): State<AppState>,
    headers: HeaderMap,
    me: super::Me,
    body: Bytes,
) -> UiResult {
    let f: SignOutForm = super::form(&body)?;
    super::check_form(&headers, &me, &f.csrf)?;
    if let Some(secret) = session::secret(&headers).map(str::to_string) {
        app.store
            .write(move |cx| {
                Box::pin(async move { arbiter_store::sessions::delete(cx, &secret).await })
            })
            .await?;
    }
    let mut r = see_other("/login");
    r.headers_mut().append(
        header::SET_COOKIE,
        session::set_cookie(
            session::is_https(&headers),
            session::COOKIE,
            session::COOKIE_SECURE,
            "",
            0,
        ),
    );
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_pages_are_places_to_go_next() {
        assert_eq!(safe_next(Some("/changes/3")), "/changes/3");
        assert_eq!(safe_next(Some("/audit?before=10")), "/audit?before=10");
        for bad in [
            "//evil.example/x",
            "https://evil.example",
            "/\\evil",
            "/api/v1/stacks",
            "/login",
            "/logout",
            "",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad}");
        }
        assert_eq!(safe_next(None), "/");
    }
}
