//! Talking to an Arbiter server: where it is, the token, signed requests for
//! agents, and turning error answers into one-line messages.
//!
//! The server and token come from `--server`/`--token`, else the
//! `ARBITER_SERVER`/`ARBITER_TOKEN` environment variables, else the config
//! file (`$ARBITER_CONFIG`, or `~/.config/arbiter/config.toml`):
//!
//! ```toml
//! server = "http://127.0.0.1:8080"
//! token = "arb_…"
//! ```

use anyhow::{anyhow, bail, Context, Result};
use arbiter_api::{AgentKey, ErrorBody};
use clap::Args;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::path::PathBuf;

/// Options of every command that talks to a server.
#[derive(Args, Debug, Clone)]
pub struct ServerArgs {
    /// Server URL [env: ARBITER_SERVER; config file `server`; default http://127.0.0.1:8080].
    #[arg(long, global = true, value_name = "URL")]
    pub server: Option<String>,
    /// API token [env: ARBITER_TOKEN; config file `token`].
    #[arg(long, global = true, value_name = "TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Print the server's JSON answer instead of a summary.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    server: Option<String>,
    token: Option<String>,
}

fn config_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("ARBITER_CONFIG") {
        return Some(PathBuf::from(p));
    }
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("arbiter").join("config.toml"))
}

fn config_file() -> Result<ConfigFile> {
    let Some(p) = config_path() else {
        return Ok(ConfigFile::default());
    };
    match std::fs::read_to_string(&p) {
        Ok(t) => toml::from_str(&t).with_context(|| format!("config file {}", p.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ConfigFile::default()),
        Err(e) => Err(e).with_context(|| format!("reading config file {}", p.display())),
    }
}

/// A connection to a server.
pub struct Client {
    base: String,
    token: Option<String>,
    key: Option<AgentKey>,
    http: reqwest::Client,
    rt: tokio::runtime::Runtime,
    /// Print raw JSON.
    pub json: bool,
}

/// An answer: status and JSON body.
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Parsed body (`Null` when empty).
    pub body: serde_json::Value,
    /// `Retry-After`, when given.
    pub retry_after: Option<String>,
}

impl Client {
    /// A client from the options; `key` makes it sign as an agent instead
    /// of sending the token.
    pub fn new(args: &ServerArgs, key: Option<&std::path::Path>) -> Result<Client> {
        let file = config_file()?;
        let base = args
            .server
            .clone()
            .or_else(|| std::env::var("ARBITER_SERVER").ok())
            .or(file.server)
            .unwrap_or_else(|| "http://127.0.0.1:8080".into());
        let base = base.trim_end_matches('/').to_string();
        if !base.starts_with("http://") && !base.starts_with("https://") {
            bail!("server URL {base:?} must start with http:// or https://");
        }
        let token = args
            .token
            .clone()
            .or_else(|| std::env::var("ARBITER_TOKEN").ok())
            .or(file.token);
        let key = match key {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("reading key file {}", p.display()))?;
                Some(AgentKey::parse(&text).with_context(|| format!("key file {}", p.display()))?)
            }
            None => None,
        };
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(120))
            .build()
            .context("starting the HTTP client")?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the async runtime")?;
        Ok(Client {
            base,
            token,
            key,
            http,
            rt,
            json: args.json,
        })
    }

    /// Sends a request; `body` is JSON text. Fails on transport errors
    /// only; the caller looks at the status.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
        headers: &[(&str, String)],
    ) -> Result<Answer> {
        self.rt
            .block_on(self.send_async(method, path, body, headers))
    }

    /// Runs a future on the client's runtime (`arbiter mcp` serves on it).
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// [`Client::send`] for callers already on the client's runtime.
    pub async fn send_async(
        &self,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
        headers: &[(&str, String)],
    ) -> Result<Answer> {
        let url = format!("{}{path}", self.base);
        let m = reqwest::Method::from_bytes(method.as_bytes())
            .map_err(|e| anyhow!("method {method}: {e}"))?;
        let mut req = self.http.request(m, &url);
        let bytes = body.unwrap_or_default();
        if let Some(k) = &self.key {
            let nonce = arbiter_api::signing::new_nonce()?;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            // Every signature header, X-Arbiter-Content-SHA256 included, so
            // the server checks the signature before it reads the body.
            for (name, value) in k.sign_request(method, path, now, &nonce, &bytes).pairs() {
                req = req.header(name, value);
            }
        } else if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        if !bytes.is_empty() {
            if !headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
            {
                req = req.header("content-type", "application/json");
            }
            req = req.body(bytes);
        }
        {
            let resp = req.send().await.map_err(|e| {
                anyhow!("cannot reach the Arbiter server at {}: {e} (is `arbiter serve` running? set --server or ARBITER_SERVER)", self.base)
            })?;
            let status = resp.status().as_u16();
            let retry_after = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(String::from);
            let text = resp.text().await.context("reading the server's answer")?;
            let body = if text.trim().is_empty() {
                serde_json::Value::Null
            } else {
                serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))
            };
            Ok(Answer {
                status,
                body,
                retry_after,
            })
        }
    }

    /// `GET path`, the answer read into its API type.
    pub fn get<T: DeserializeOwned>(&self, path: &str) -> Result<Reply<T>> {
        self.send("GET", path, None, &[])?.parse()
    }

    /// A request without a body (`POST …/revoke`, `DELETE …`), the answer
    /// read into its API type.
    pub fn call<T: DeserializeOwned>(&self, method: &str, path: &str) -> Result<Reply<T>> {
        self.send(method, path, None, &[])?.parse()
    }

    /// A request whose body is an API request type, the answer read into
    /// its API type. Fails with the server's error message unless the
    /// status is 2xx.
    pub fn call_with<B: Serialize, T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: &B,
    ) -> Result<Reply<T>> {
        self.send_with(method, path, body, &[])?.parse()
    }

    /// Like [`Client::send`] with an API request type as the body.
    pub fn send_with<B: Serialize>(
        &self,
        method: &str,
        path: &str,
        body: &B,
        headers: &[(&str, String)],
    ) -> Result<Answer> {
        let bytes = serde_json::to_vec(body).context("serialising the request")?;
        self.send(method, path, Some(bytes), headers)
    }

    /// Streams a GET answer's body into a writer (for large exports).
    pub fn download(&self, path: &str, out: &mut dyn std::io::Write) -> Result<()> {
        let mut err = None;
        self.download_with(path, &mut |chunk| match out.write_all(chunk) {
            Ok(()) => true,
            Err(e) => {
                err = Some(e);
                false
            }
        })?;
        match err {
            Some(e) => Err(e).context("writing the output"),
            None => Ok(()),
        }
    }

    /// Streams a GET answer's body chunk by chunk to `sink`, which returns
    /// `false` to stop early.
    pub fn download_with(&self, path: &str, sink: &mut dyn FnMut(&[u8]) -> bool) -> Result<()> {
        let url = format!("{}{path}", self.base);
        let mut req = self.http.get(&url);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        self.rt.block_on(async {
            let mut resp = req
                .send()
                .await
                .map_err(|e| anyhow!("cannot reach the Arbiter server at {}: {e}", self.base))?;
            if !resp.status().is_success() {
                let status = resp.status().as_u16();
                let text = resp.text().await.unwrap_or_default();
                let body = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
                return Answer {
                    status,
                    body,
                    retry_after: None,
                }
                .ok()
                .map(|_| ());
            }
            while let Some(chunk) = resp.chunk().await.context("reading the server's answer")? {
                if !sink(&chunk) {
                    break;
                }
            }
            Ok(())
        })
    }

    /// Prints an answer: the server's JSON as it came (with `--json`), or
    /// `summary` of its typed form.
    pub fn print<T>(&self, r: &Reply<T>, summary: impl FnOnce(&T) -> String) {
        if self.json {
            println!(
                "{}",
                serde_json::to_string_pretty(&r.raw).unwrap_or_default()
            );
        } else {
            print!("{}", summary(&r.data));
        }
    }
}

impl Answer {
    /// The body if 2xx, else an error with the server's code and message.
    pub fn ok(self) -> Result<serde_json::Value> {
        if (200..300).contains(&self.status) {
            return Ok(self.body);
        }
        let (code, msg) = match serde_json::from_value::<ErrorBody>(self.body.clone()) {
            Ok(e) => (e.error.code, e.error.message),
            Err(_) => ("error".to_string(), self.body.to_string()),
        };
        let retry = self
            .retry_after
            .map(|r| format!(" (retry after {r} s)"))
            .unwrap_or_default();
        bail!("server answered {} {code}: {msg}{retry}", self.status)
    }

    /// The body read into its API type if 2xx, else an error with the
    /// server's code and message. An answer that does not have the type's
    /// shape is an error naming the type: client and server disagree.
    pub fn parse<T: DeserializeOwned>(self) -> Result<Reply<T>> {
        let status = self.status;
        let raw = self.ok()?;
        let data = T::deserialize(&raw).map_err(|e| {
            anyhow!(
                "the server's answer is not a {}: {e}",
                std::any::type_name::<T>()
            )
        })?;
        Ok(Reply { status, raw, data })
    }
}

/// A 2xx answer read into its API type, with the JSON as the server sent
/// it (what `--json` prints).
pub struct Reply<T> {
    /// HTTP status.
    pub status: u16,
    /// The body as received (`Null` when empty).
    pub raw: serde_json::Value,
    /// The body as its API type.
    pub data: T,
}

/// An optional value as `-` when absent, else as the server wrote it (a
/// string as itself, anything else as JSON).
pub fn dash<T: Serialize>(v: Option<&T>) -> String {
    match v.map(serde_json::to_value) {
        None | Some(Ok(serde_json::Value::Null)) => "-".into(),
        Some(Ok(serde_json::Value::String(s))) => s,
        Some(Ok(other)) => other.to_string(),
        Some(Err(_)) => "-".into(),
    }
}

/// A value as compact JSON (lists of names, attribute values).
pub fn js<T: Serialize + ?Sized>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// Parses durations such as `500ms`, `90s`, `15m`, `72h`, `7d`.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?}: expected a number and a unit, like 90s, 15m, 72h or 7d"))?;
    if unit == "ms" {
        return Ok(std::time::Duration::from_millis(n));
    }
    let mult = match unit {
        "s" | "" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("{s:?}: unit must be ms, s, m, h or d")),
    };
    n.checked_mul(mult)
        .map(std::time::Duration::from_secs)
        .ok_or_else(|| format!("{s:?} is too long"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    fn answer(status: u16, body: serde_json::Value) -> Answer {
        Answer {
            status,
            body,
            retry_after: Some("7".into()),
        }
    }

    #[test]
    fn answers_are_read_into_their_api_type_or_refused_naming_it() {
        let w = serde_json::json!({"webhook": 3, "delivery": "12-3", "event": "webhook.ping"});
        let r = answer(202, w.clone())
            .parse::<arbiter_api::WebhookTest>()
            .unwrap();
        assert_eq!((r.status, r.data.webhook, r.raw), (202, 3, w));
        // A shape the type does not have: client and server disagree.
        let e = answer(200, serde_json::json!({"webhook": "3"}))
            .parse::<arbiter_api::WebhookTest>()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            e.contains("is not a arbiter_api::webhooks::WebhookTest"),
            "{e}"
        );
    }

    #[test]
    fn error_answers_give_the_code_message_and_retry_time() {
        let body = serde_json::json!({"error": {"code": "rate_limited", "message": "slow down"}});
        let e = answer(429, body).ok().err().map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some("server answered 429 rate_limited: slow down (retry after 7 s)")
        );
        let e = answer(502, serde_json::Value::String("Bad Gateway".into()))
            .ok()
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some("server answered 502 error: \"Bad Gateway\" (retry after 7 s)")
        );
    }

    #[test]
    fn durations_parse() {
        assert_eq!(
            parse_duration("90s"),
            Ok(std::time::Duration::from_secs(90))
        );
        assert_eq!(
            parse_duration("7d"),
            Ok(std::time::Duration::from_secs(604_800))
        );
        assert_eq!(parse_duration("15"), Ok(std::time::Duration::from_secs(15)));
        assert_eq!(
            parse_duration("250ms"),
            Ok(std::time::Duration::from_millis(250))
        );
        assert!(parse_duration("3 weeks").is_err());
        assert!(parse_duration("h").is_err());
    }
}
