//! Verification after an apply: for the stack's window, every interval, an
//! HTTP health URL must answer 2xx and/or a PromQL expression must return
//! a non-empty result from a Prometheus HTTP API (`/api/v1/query`).

use crate::logs::LogSink;
use arbiter_api::runs::Verification;
use std::time::Duration;

/// Why the checks did not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The health URL did not answer 2xx.
    #[error("health check {url} failed: {reason}")]
    Health {
        /// The URL.
        url: String,
        /// Status or transport error.
        reason: String,
    },
    /// The PromQL expression returned nothing, or the query failed.
    #[error("PromQL `{expr}` did not hold: {reason}")]
    Promql {
        /// The expression.
        expr: String,
        /// Empty result, or the query error.
        reason: String,
    },
    /// The verification configuration is unusable.
    #[error("verification is misconfigured: {0}")]
    Config(String),
}

/// One round of checks.
pub async fn check_once(v: &Verification, http: &reqwest::Client) -> Result<(), VerifyError> {
    if let Some(url) = &v.health_url {
        let r = http.get(url).send().await;
        match r {
            Ok(resp) if resp.status().is_success() => {}
            Ok(resp) => {
                return Err(VerifyError::Health {
                    url: url.clone(),
                    reason: format!("HTTP {}", resp.status().as_u16()),
                })
            }
            Err(e) => {
                return Err(VerifyError::Health {
                    url: url.clone(),
                    reason: e.to_string(),
                })
            }
        }
    }
    if let Some(expr) = &v.promql {
        let base = v
            .prometheus_url
            .as_deref()
            .ok_or_else(|| VerifyError::Config("promql is set but prometheus_url is not".into()))?;
        let url = format!(
            "{}/api/v1/query?query={}",
            base.trim_end_matches('/'),
            crate::api::urlencode(expr)
        );
        let fail = |reason: String| VerifyError::Promql {
            expr: expr.to_string(),
            reason,
        };
        let resp = http
            .get(&url)
            .send()
            .await
            .map_err(|e| fail(e.to_string()))?;
        let status = resp.status().as_u16();
        let body: serde_json::Value = resp
            .json()
            .await
            .map_err(|e| fail(format!("HTTP {status}, answer is not JSON: {e}")))?;
        if body["status"] != "success" {
            return Err(fail(format!(
                "query failed (HTTP {status}): {}",
                body["error"].as_str().unwrap_or("no error message")
            )));
        }
        let data = &body["data"];
        let holds = match data["resultType"].as_str() {
            Some("vector") | Some("matrix") => {
                data["result"].as_array().is_some_and(|a| !a.is_empty())
            }
            // A scalar holds unless it is 0 (like `1 > bool 0`).
            Some("scalar") => data["result"][1].as_str().is_some_and(|v| v != "0"),
            _ => false,
        };
        if !holds {
            return Err(fail("empty result".into()));
        }
    }
    Ok(())
}

/// Runs the checks every `interval_secs` for `window_secs` (at least once
/// at the start and once at the end); the first failure ends it.
pub async fn verify(v: &Verification, log: &LogSink) -> Result<(), VerifyError> {
    if v.health_url.is_none() && v.promql.is_none() {
        return Err(VerifyError::Config(
            "neither health_url nor promql is set".into(),
        ));
    }
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| VerifyError::Config(e.to_string()))?;
    let window = Duration::from_secs(v.window_secs);
    let interval = Duration::from_secs(v.interval_secs.max(1));
    let start = tokio::time::Instant::now();
    let mut round = 0u32;
    loop {
        round += 1;
        check_once(v, &http).await.inspect_err(|e| {
            log.line(&format!("[arbiter] verification round {round}: {e}"));
        })?;
        log.line(&format!("[arbiter] verification round {round}: holds"));
        let elapsed = start.elapsed();
        if elapsed >= window {
            return Ok(());
        }
        tokio::time::sleep(interval.min(window - elapsed)).await;
    }
}
