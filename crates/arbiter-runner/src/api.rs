//! The worker's side of the runs API (see `arbiter_api::runs`): an HTTP
//! client authenticated with the worker-pool token.

use arbiter_api::runs::{
    Claim, ClaimRequest, Heartbeat, HeartbeatAck, LogChunk, PhaseReport, RevisedPlan, RevisionAck,
    Run,
};
use std::time::Duration;

/// A failed call to the server.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Not reachable, or the connection broke.
    #[error("cannot reach the Arbiter server at {base}: {message}")]
    Transport {
        /// The server.
        base: String,
        /// What happened.
        message: String,
    },
    /// The server answered with an error.
    #[error("{method} {path}: HTTP {status}: {message}")]
    Status {
        /// Method.
        method: &'static str,
        /// Path.
        path: String,
        /// Status.
        status: u16,
        /// The server's error message.
        message: String,
    },
    /// The answer is not what the contract says.
    #[error("{path}: unexpected answer: {source}")]
    Decode {
        /// Path.
        path: String,
        /// What.
        #[source]
        source: serde_json::Error,
    },
    /// The bundle's bytes are not the ones asked for.
    #[error("bundle {expected}: the server sent bytes with SHA-256 {actual}")]
    BundleDigest {
        /// Asked for.
        expected: String,
        /// Got.
        actual: String,
    },
}

impl ApiError {
    /// A 409: the run moved on (cancelled, interrupted, lease lost).
    pub fn is_conflict(&self) -> bool {
        matches!(
            self,
            ApiError::Status {
                status: 409 | 410,
                ..
            }
        )
    }

    /// Worth retrying (transport errors, 5xx, 429).
    pub fn is_transient(&self) -> bool {
        match self {
            ApiError::Transport { .. } => true,
            ApiError::Status { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        }
    }
}

/// A worker's connection to a server.
#[derive(Clone)]
pub struct WorkerApi {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl WorkerApi {
    /// A client for `base` (`http://host:port`) with a worker-pool token.
    pub fn new(base: &str, token: &str) -> Result<WorkerApi, ApiError> {
        let base = base.trim_end_matches('/').to_string();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| ApiError::Transport {
                base: base.clone(),
                message: e.to_string(),
            })?;
        Ok(WorkerApi {
            base,
            token: token.to_string(),
            http,
        })
    }

    /// The server's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    async fn send(
        &self,
        method: &'static str,
        path: &str,
        body: Option<Vec<u8>>,
        timeout: Option<Duration>,
    ) -> Result<(u16, Vec<u8>), ApiError> {
        let url = format!("{}{path}", self.base);
        let m = if method == "GET" {
            reqwest::Method::GET
        } else {
            reqwest::Method::POST
        };
        let mut req = self.http.request(m, &url).bearer_auth(&self.token);
        if let Some(t) = timeout {
            req = req.timeout(t);
        }
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b);
        }
        let resp = req.send().await.map_err(|e| ApiError::Transport {
            base: self.base.clone(),
            message: e.to_string(),
        })?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.map_err(|e| ApiError::Transport {
            base: self.base.clone(),
            message: e.to_string(),
        })?;
        if !(200..300).contains(&status) {
            let v: Option<serde_json::Value> = serde_json::from_slice(&bytes).ok();
            let message = v
                .as_ref()
                .and_then(|v| v.get("error").or_else(|| v.get("message")))
                .and_then(|m| m.as_str().map(str::to_string))
                .unwrap_or_else(|| String::from_utf8_lossy(&bytes).chars().take(300).collect());
            return Err(ApiError::Status {
                method,
                path: path.to_string(),
                status,
                message,
            });
        }
        Ok((status, bytes.to_vec()))
    }

    async fn json<T: serde::Serialize, R: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &T,
    ) -> Result<R, ApiError> {
        let bytes = serde_json::to_vec(body).map_err(|source| ApiError::Decode {
            path: path.to_string(),
            source,
        })?;
        let (_, out) = self.send("POST", path, Some(bytes), None).await?;
        serde_json::from_slice(&out).map_err(|source| ApiError::Decode {
            path: path.to_string(),
            source,
        })
    }

    /// Asks for a run, waiting up to `wait_secs` (long-poll). `None`: nothing to do.
    pub async fn claim(&self, worker: &str, wait_secs: u32) -> Result<Option<Claim>, ApiError> {
        let path = "/api/v1/runs/claim";
        let body = serde_json::to_vec(&ClaimRequest {
            worker: worker.to_string(),
            wait_secs,
        })
        .map_err(|source| ApiError::Decode {
            path: path.into(),
            source,
        })?;
        let timeout = Duration::from_secs(u64::from(wait_secs) + 30);
        let (status, out) = self.send("POST", path, Some(body), Some(timeout)).await?;
        if status == 204 || out.is_empty() {
            return Ok(None);
        }
        serde_json::from_slice(&out)
            .map(Some)
            .map_err(|source| ApiError::Decode {
                path: path.into(),
                source,
            })
    }

    /// Keeps the claim alive; tells whether a person asked to cancel.
    pub async fn heartbeat(&self, run: i64, lease: &str) -> Result<HeartbeatAck, ApiError> {
        self.json(
            &format!("/api/v1/runs/{run}/heartbeat"),
            &Heartbeat {
                lease: lease.to_string(),
            },
        )
        .await
    }

    /// Moves the run to its next phase (409 when illegal or stale).
    pub async fn phase(&self, run: i64, report: &PhaseReport) -> Result<Run, ApiError> {
        self.json(&format!("/api/v1/runs/{run}/phase"), report)
            .await
    }

    /// Appends a log chunk (idempotent by offset).
    pub async fn log(&self, run: i64, chunk: &LogChunk) -> Result<(), ApiError> {
        let path = format!("/api/v1/runs/{run}/logs");
        let body = serde_json::to_vec(chunk).map_err(|source| ApiError::Decode {
            path: path.clone(),
            source,
        })?;
        self.send("POST", &path, Some(body), None).await.map(|_| ())
    }

    /// Sends the new plan as a revision of the change request.
    pub async fn revision(&self, run: i64, plan: &RevisedPlan) -> Result<RevisionAck, ApiError> {
        self.json(&format!("/api/v1/runs/{run}/revision"), plan)
            .await
    }

    /// The judged plan JSON, as submitted.
    pub async fn judged_plan(&self, run: i64, lease: &str) -> Result<Vec<u8>, ApiError> {
        let path = format!("/api/v1/runs/{run}/judged-plan?lease={}", urlencode(lease));
        Ok(self.send("GET", &path, None, None).await?.1)
    }

    /// A configuration bundle, checked against its SHA-256.
    pub async fn bundle(&self, sha256: &str) -> Result<Vec<u8>, ApiError> {
        let path = format!("/api/v1/bundles/{}", urlencode(sha256));
        let (_, bytes) = self.send("GET", &path, None, None).await?;
        let actual = crate::source::sha256_hex(&bytes);
        if !actual.eq_ignore_ascii_case(sha256) {
            return Err(ApiError::BundleDigest {
                expected: sha256.to_string(),
                actual,
            });
        }
        Ok(bytes)
    }
}

/// Percent-encodes a query or path value.
pub fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
