//! The MCP server: tools for agents over the Model Context Protocol.
//!
//! Two transports share one set of tools ([`tools::ArbiterMcp`] over a
//! [`tools::Backend`]):
//! - Streamable HTTP at `/mcp` on the server, for remote agents. Standard
//!   MCP clients cannot sign ARBITER-SIG-V1 requests, so `/mcp` takes bearer
//!   tokens only: people's API tokens and agents' short-lived tokens
//!   (minted by a signed `POST /api/v1/agents/{name}/tokens`, see
//!   [`tokens`]). Session cookies and signatures are refused, and so is a
//!   `Host` outside the allowed list (`--mcp-allowed-host`; loopback names
//!   by default), against DNS rebinding and for use behind a proxy.
//! - stdio, `arbiter mcp`, for an agent on the same machine: the CLI signs
//!   each API call with the agent's key (crates/arbiter-cli/src/cmd/mcp.rs).
//!
//! **Invariant:** a tool does nothing a caller could not do over HTTP. At
//! `/mcp` each tool's API calls are in-process requests through the same
//! router, middleware (authentication, body limits, timeouts, metrics) and
//! handlers as HTTP requests, carrying the principal that `/mcp`'s own
//! request authenticated as ([`ViaMcp`]); a request extension cannot come
//! from outside the process.

pub mod tokens;
pub mod tools;

use crate::auth::Principal;
use crate::error::ApiError;
use crate::AppState;
use axum::body::Body;
use axum::extract::Request;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::RoleServer;
use std::sync::Arc;
use std::time::Duration;
use tools::{ApiAnswer, ApiCall, ArbiterMcp, Backend, BoxFuture};

/// The `Host` names `/mcp` accepts when none are configured.
pub const DEFAULT_ALLOWED_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// Marks an in-process API request made by an MCP tool, with the principal
/// of the `/mcp` request it serves; the authentication middleware takes it
/// instead of credentials.
#[derive(Debug, Clone)]
pub struct ViaMcp(pub Principal);

/// The Streamable HTTP service behind `/mcp`.
#[derive(Clone)]
pub struct McpHttp {
    service: StreamableHttpService<ArbiterMcp, LocalSessionManager>,
    allowed: Arc<Vec<String>>,
}

/// The allowed `Host` values: the configured ones, else the loopback names.
pub fn allowed_hosts(configured: &[String]) -> Vec<String> {
    if configured.is_empty() {
        DEFAULT_ALLOWED_HOSTS
            .iter()
            .map(|s| s.to_string())
            .collect()
    } else {
        configured.to_vec()
    }
}

/// The `/mcp` service of a server whose API router (without `/mcp`'s
/// service) is `api`.
pub fn http_service(state: &AppState, api: Router) -> McpHttp {
    let allowed = allowed_hosts(&state.config.mcp_allowed_hosts);
    // Every wait ends well within the request timeout of `/mcp`'s request.
    let max_wait = state
        .config
        .request_timeout
        .saturating_sub(Duration::from_secs(5))
        .min(tools::MAX_WAIT);
    let backend: Arc<dyn Backend> = Arc::new(InProcess {
        router: api,
        body_limit: state.config.max_body_bytes.saturating_mul(2),
        max_wait,
    });
    let server = ArbiterMcp::new(backend);
    let config = StreamableHttpServerConfig::default()
        // Stateless: every POST stands alone, so replicas behind a load
        // balancer need no shared session.
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_sse_keep_alive(None)
        .with_allowed_hosts(allowed.clone())
        .with_max_request_body_bytes(state.config.max_body_bytes);
    let service = StreamableHttpService::new(
        move || Ok(server.clone()),
        LocalSessionManager::default().into(),
        config,
    );
    McpHttp {
        service,
        allowed: Arc::new(allowed),
    }
}

fn host_allowed(req: &Request, allowed: &[String]) -> bool {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| req.uri().authority().map(|a| a.as_str().to_string()));
    let Some(host) = host else { return false };
    let Ok(auth) = host.parse::<axum::http::uri::Authority>() else {
        return false;
    };
    let name = auth.host().trim_start_matches('[').trim_end_matches(']');
    allowed.iter().any(|a| {
        let (h, port) = match a.parse::<axum::http::uri::Authority>() {
            Ok(x) => (x.host().to_string(), x.port_u16()),
            Err(_) => (a.clone(), None),
        };
        h.trim_start_matches('[')
            .trim_end_matches(']')
            .eq_ignore_ascii_case(name)
            && port.is_none_or(|p| Some(p) == auth.port_u16())
    })
}

/// `POST`/`GET`/`DELETE /mcp`: the MCP endpoint. The authentication
/// middleware has checked the credentials; here only a bearer token counts.
pub async fn endpoint(
    Extension(mcp): Extension<McpHttp>,
    principal: Option<Extension<Principal>>,
    req: Request,
) -> Response {
    if !host_allowed(&req, &mcp.allowed) {
        return ApiError::new(
            arbiter_api::ErrorCode::HostNotAllowed,
            "the Host header is not one /mcp accepts (see --mcp-allowed-host)",
        )
        .into_response();
    }
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.len() > 7 && v[..7].eq_ignore_ascii_case("bearer "));
    const ONLY_BEARER: &str = "/mcp takes `Authorization: Bearer TOKEN` only (an API token, or an agent token from POST /api/v1/agents/{name}/tokens); session cookies and signatures are not accepted here";
    if principal.is_none() {
        // (The middleware refuses these first; one code, one status.)
        return ApiError::new(arbiter_api::ErrorCode::Unauthenticated, ONLY_BEARER).into_response();
    }
    if !bearer {
        // Authenticated (a signature), but not the way /mcp takes.
        return ApiError::new(arbiter_api::ErrorCode::BearerRequired, ONLY_BEARER).into_response();
    }
    use tower_service::Service;
    let mut svc = mcp.service.clone();
    match svc.call(req).await {
        Ok(r) => r.map(Body::new),
        Err(e) => match e {},
    }
}

/// The tools' backend at `/mcp`: in-process requests through the router.
struct InProcess {
    router: Router,
    body_limit: usize,
    max_wait: Duration,
}

impl Backend for InProcess {
    fn send<'a>(
        &'a self,
        cx: &'a RequestContext<RoleServer>,
        call: ApiCall,
    ) -> BoxFuture<'a, Result<ApiAnswer, String>> {
        let principal = cx
            .extensions
            .get::<axum::http::request::Parts>()
            .and_then(|p| p.extensions.get::<Principal>())
            .cloned();
        Box::pin(async move {
            let principal =
                principal.ok_or_else(|| "the MCP request carries no caller".to_string())?;
            let mut b = Request::builder().method(call.method).uri(&call.path);
            for (k, v) in &call.headers {
                b = b.header(*k, v);
            }
            if call.body.is_some() {
                b = b.header(header::CONTENT_TYPE, "application/json");
            }
            let mut req = b
                .body(Body::from(call.body.unwrap_or_default()))
                .map_err(|e| format!("building the request to {}: {e}", call.path))?;
            req.extensions_mut().insert(ViaMcp(principal));
            use tower_service::Service;
            let mut router = self.router.clone();
            let resp = match router.call(req).await {
                Ok(r) => r,
                Err(e) => match e {},
            };
            let status = resp.status().as_u16();
            let bytes = axum::body::to_bytes(resp.into_body(), self.body_limit)
                .await
                .map_err(|e| format!("reading the answer of {}: {e}", call.path))?;
            let body = if bytes.is_empty() {
                serde_json::Value::Null
            } else {
                serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                    serde_json::Value::String(String::from_utf8_lossy(&bytes).into_owned())
                })
            };
            Ok(ApiAnswer { status, body })
        })
    }

    fn max_wait(&self) -> Duration {
        self.max_wait
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn with_host(h: &str) -> Request {
        Request::builder()
            .uri("/mcp")
            .header(header::HOST, h)
            .body(Body::empty())
            .unwrap()
    }

    #[test]
    fn hosts_match_by_name_and_by_port_when_one_is_given() {
        let allowed = allowed_hosts(&[]);
        for ok in [
            "localhost",
            "localhost:8080",
            "127.0.0.1:1",
            "[::1]:8080",
            "LOCALHOST",
        ] {
            assert!(host_allowed(&with_host(ok), &allowed), "{ok}");
        }
        for bad in ["evil.example", "localhost.evil.example", "127.0.0.2", ""] {
            assert!(!host_allowed(&with_host(bad), &allowed), "{bad}");
        }
        let proxy = vec!["arbiter.example:443".to_string(), "intra".to_string()];
        assert!(host_allowed(&with_host("arbiter.example:443"), &proxy));
        assert!(!host_allowed(&with_host("arbiter.example:8443"), &proxy));
        assert!(!host_allowed(&with_host("arbiter.example"), &proxy));
        assert!(host_allowed(&with_host("intra:9"), &proxy));
        assert!(!host_allowed(&with_host("localhost"), &proxy));
    }
}
