//! The MCP tools: one table ([`TOOLS`]) of names, descriptions, input and
//! output schemas and annotations, and [`ArbiterMcp`], the rmcp server
//! handler that runs them.
//!
//! Every tool is a sequence of calls to the HTTP API through a [`Backend`]:
//! in the server (`/mcp`) an in-process request through the same router,
//! middleware and handlers as any HTTP request, with the caller's principal;
//! in `arbiter mcp` (stdio) a signed HTTP request to the server. Nothing here
//! reads the store or decides anything, so an MCP call can do exactly what
//! the same caller could do over HTTP: scopes, rate limits, evaluation
//! budgets and policies apply unchanged. There is no approve, confirm or
//! apply tool: people decide.
//!
//! The tools read the API's JSON as JSON (not as Rust types): a field the
//! server adds (a finding's `fix`, a verdict's `counterfactual`) is passed
//! through without a change here.

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    JsonObject, ListToolsResult, PaginatedRequestParams, ProtocolVersion, ServerCapabilities,
    ServerConfig, Tool, ToolAnnotations,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::{json, Value};
use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// The protocol versions served: the current one and the older ones still
/// in use (2025-06-18 is the oldest with structured tool output).
pub const PROTOCOL_VERSIONS: &[ProtocolVersion] = &[
    ProtocolVersion::V_2025_06_18,
    ProtocolVersion::V_2025_11_25,
    ProtocolVersion::V_2026_07_28,
];

/// Longest `wait_for_decision` wait, whatever the caller asks.
pub const MAX_WAIT: Duration = Duration::from_secs(50);

/// How often `wait_for_decision` looks at the change request.
const POLL: Duration = Duration::from_millis(500);

/// One call to the HTTP API.
#[derive(Debug, Clone)]
pub struct ApiCall {
    /// `GET`, `POST`, …
    pub method: &'static str,
    /// Path and query, e.g. `/api/v1/change-requests/7`.
    pub path: String,
    /// JSON body.
    pub body: Option<Vec<u8>>,
    /// Extra headers (`idempotency-key`).
    pub headers: Vec<(&'static str, String)>,
}

impl ApiCall {
    /// A GET.
    pub fn get(path: impl Into<String>) -> ApiCall {
        ApiCall {
            method: "GET",
            path: path.into(),
            body: None,
            headers: Vec::new(),
        }
    }

    /// A POST of a JSON value.
    pub fn post(path: impl Into<String>, body: &Value) -> ApiCall {
        ApiCall {
            method: "POST",
            path: path.into(),
            body: Some(body.to_string().into_bytes()),
            headers: Vec::new(),
        }
    }
}

/// The API's answer.
#[derive(Debug, Clone)]
pub struct ApiAnswer {
    /// HTTP status.
    pub status: u16,
    /// The JSON body (a string when it was not JSON, `Null` when empty).
    pub body: Value,
}

/// A boxed future, as the backends return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where the tools send their API calls.
pub trait Backend: Send + Sync + 'static {
    /// Sends one call on behalf of the MCP request `cx`; `Err` only when
    /// the API could not be reached (a message for the caller).
    fn send<'a>(
        &'a self,
        cx: &'a RequestContext<RoleServer>,
        call: ApiCall,
    ) -> BoxFuture<'a, Result<ApiAnswer, String>>;

    /// Longest a tool may wait (`wait_for_decision`) inside one MCP request.
    fn max_wait(&self) -> Duration {
        MAX_WAIT
    }
}

/// What a tool may do, as its annotations say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Reads only.
    ReadOnly,
    /// Creates something; the same arguments create nothing more.
    AdditiveIdempotent,
}

/// One tool's description.
pub struct ToolSpec {
    /// Name.
    pub name: &'static str,
    /// Title.
    pub title: &'static str,
    /// What it does, for the model.
    pub description: &'static str,
    /// What it may do.
    pub effect: Effect,
    /// JSON Schema of the arguments.
    pub input: fn() -> Value,
    /// JSON Schema of the structured result.
    pub output: fn() -> Value,
}

fn obj(props: Value, required: &[&str]) -> Value {
    json!({"type": "object", "properties": props, "required": required})
}

fn plan_input() -> Value {
    obj(
        json!({
            "stack": {"type": "string", "description": "Target stack name"},
            "plan": {"type": "object", "description": "The plan as `terraform show -json PLANFILE` prints it"},
            "intent": {"type": "string", "description": "What the change is for (shown to reviewers)"},
        }),
        &["stack", "plan"],
    )
}

fn change_schema() -> Value {
    json!({
        "type": "object",
        "description": "A change request as GET /api/v1/change-requests/{id} answers it",
        "properties": {
            "id": {"type": "integer"},
            "stack": {"type": "string"},
            "submitter": {"type": "string"},
            "status": {"type": "string"},
            "decision": {"type": ["string", "null"]},
            "confidence": {"type": ["number", "null"]},
            "reason": {"type": ["string", "null"]},
            "verdict": {"type": ["object", "null"]},
        },
        "required": ["id", "stack", "status"],
    })
}

fn id_input(what: &str) -> Value {
    obj(
        json!({"id": {"type": "integer", "minimum": 1, "description": what}}),
        &["id"],
    )
}

fn finding_selector() -> Value {
    obj(
        json!({
            "change_id": {"type": "integer", "minimum": 1, "description": "The change request"},
            "rule_id": {"type": "string", "description": "The finding's rule, e.g. ARB-AWS-EC2-001"},
            "address": {"type": "string", "description": "The resource address, when the rule fired on several"},
            "index": {"type": "integer", "minimum": 0, "description": "Position in the verdict's findings (instead of rule_id)"},
        }),
        &["change_id"],
    )
}

fn preflight_output() -> Value {
    obj(
        json!({
            "would_approve": {"type": "boolean", "description": "Whether a submission would be approved without review"},
            "status": {"type": "string", "description": "The status a submission would get: approved, pending_review or rejected"},
            "reason": {"type": ["string", "null"]},
            "scope_violations": {"type": "array", "items": {"type": "string"}},
            "verdict": {"type": "object"},
        }),
        &["would_approve", "status", "verdict"],
    )
}

fn wait_input() -> Value {
    obj(
        json!({
            "id": {"type": "integer", "minimum": 1, "description": "The change request"},
            "timeout_seconds": {"type": "integer", "minimum": 0, "maximum": MAX_WAIT.as_secs(), "description": "Longest wait (at most 50; default 30)"},
        }),
        &["id"],
    )
}

fn wait_output() -> Value {
    obj(
        json!({
            "decided": {"type": "boolean", "description": "Whether the change request left submitted/evaluated/pending_review"},
            "waited_ms": {"type": "integer"},
            "change": change_schema(),
        }),
        &["decided", "waited_ms", "change"],
    )
}

fn submit_input() -> Value {
    let mut s = plan_input();
    s["properties"]["idempotency_key"] = json!({"type": "string", "minLength": 1, "maxLength": 200, "description": "A retry with the same key and plan returns the same change request"});
    s["required"] = json!(["stack", "plan", "idempotency_key"]);
    s
}

fn explain_output() -> Value {
    obj(
        json!({
            "change_id": {"type": "integer"},
            "finding": {"type": "object", "description": "The finding as the verdict has it"},
            "rule": {"type": ["object", "null"], "description": "The built-in rule's metadata (null for user policies and critics)"},
        }),
        &["change_id", "finding", "rule"],
    )
}

fn fixes_output() -> Value {
    obj(
        json!({
            "change_id": {"type": "integer"},
            "decision": {"type": ["string", "null"]},
            "fixes": {"type": "array", "items": {
                "type": "object",
                "properties": {
                    "rule_id": {"type": "string"},
                    "address": {"type": ["string", "null"]},
                    "severity": {"type": ["string", "null"]},
                    "effect": {"type": ["string", "null"]},
                    "message": {"type": ["string", "null"]},
                    "fix": {"description": "The finding's machine-applicable fix, when the verdict has one"},
                    "remediation": {"type": ["string", "null"], "description": "What to do, in words"},
                },
                "required": ["rule_id", "fix", "remediation"],
            }},
            "counterfactual": {"description": "The verdict with every fix applied, when the verdict has it"},
        }),
        &["change_id", "fixes"],
    )
}

fn list_output() -> Value {
    obj(
        json!({"items": {"type": "array", "items": {"type": "object"}}}),
        &["items"],
    )
}

fn run_input() -> Value {
    id_input("The run")
}

fn run_output() -> Value {
    json!({"type": "object", "description": "The run as GET /api/v1/runs/{id} answers it"})
}

fn logs_output() -> Value {
    obj(
        json!({"id": {"type": "string"}, "logs": {"description": "GET /api/v1/runs/{id}/logs's answer"}}),
        &["id", "logs"],
    )
}

fn no_input() -> Value {
    json!({"type": "object", "properties": {}})
}

/// Every tool.
pub const TOOLS: &[ToolSpec] = &[
    ToolSpec {
        name: "preflight_plan",
        title: "Would this plan be approved?",
        description: "Judges a plan against a stack exactly as a submission would (policies, critics, the agent's scope) without storing anything: the status it would get, why, and the full verdict with its findings.",
        effect: Effect::ReadOnly,
        input: plan_input,
        output: preflight_output,
    },
    ToolSpec {
        name: "submit_change",
        title: "Submit a change request",
        description: "Submits a plan as a change request: it is judged and approved, sent to people for review, or rejected. Idempotent by idempotency_key: a retry returns the same change request. Nothing is applied by this tool; people decide what is held.",
        effect: Effect::AdditiveIdempotent,
        input: submit_input,
        output: change_schema,
    },
    ToolSpec {
        name: "get_change",
        title: "Read a change request",
        description: "A change request with its status, decision, confidence and verdict.",
        effect: Effect::ReadOnly,
        input: || id_input("The change request"),
        output: change_schema,
    },
    ToolSpec {
        name: "wait_for_decision",
        title: "Wait for a decision",
        description: "Waits (at most timeout_seconds, 50 at most) until the change request is decided (approved, rejected, cancelled, expired, …) and returns it; decided is false when the wait ran out first.",
        effect: Effect::ReadOnly,
        input: wait_input,
        output: wait_output,
    },
    ToolSpec {
        name: "explain_finding",
        title: "Explain a finding",
        description: "One finding of a change request's verdict (by rule_id and address, or index) with the rule's rationale and remediation.",
        effect: Effect::ReadOnly,
        input: finding_selector,
        output: explain_output,
    },
    ToolSpec {
        name: "suggest_fixes",
        title: "Suggest fixes",
        description: "For each finding of a change request's verdict: its machine-applicable fix when the verdict has one, else the rule's remediation; and the verdict with all fixes applied (counterfactual) when present.",
        effect: Effect::ReadOnly,
        input: || {
            obj(
                json!({"change_id": {"type": "integer", "minimum": 1}}),
                &["change_id"],
            )
        },
        output: fixes_output,
    },
    ToolSpec {
        name: "list_policies",
        title: "List policy sets",
        description: "The policy sets stored on the server.",
        effect: Effect::ReadOnly,
        input: no_input,
        output: list_output,
    },
    ToolSpec {
        name: "get_run",
        title: "Read a run",
        description: "A run (applying an approved change request) by id: its phase, timings, tool and digests.",
        effect: Effect::ReadOnly,
        input: run_input,
        output: run_output,
    },
    ToolSpec {
        name: "get_run_logs",
        title: "Read a run's logs",
        description: "A run's logs by id.",
        effect: Effect::ReadOnly,
        input: run_input,
        output: logs_output,
    },
];

fn as_object(v: Value) -> Arc<JsonObject> {
    match v {
        Value::Object(m) => Arc::new(m),
        _ => Arc::new(JsonObject::new()),
    }
}

impl ToolSpec {
    /// The MCP tool description.
    pub fn tool(&self) -> Tool {
        let annotations = match self.effect {
            Effect::ReadOnly => ToolAnnotations::with_title(self.title)
                .read_only(true)
                .destructive(false)
                .idempotent(true)
                .open_world(false),
            Effect::AdditiveIdempotent => ToolAnnotations::with_title(self.title)
                .read_only(false)
                .destructive(false)
                .idempotent(true)
                .open_world(false),
        };
        Tool::new(self.name, self.description, as_object((self.input)()))
            .with_title(self.title)
            .with_raw_output_schema(as_object((self.output)()))
            .with_annotations(annotations)
    }
}

/// The MCP server: the tools over a backend.
#[derive(Clone)]
pub struct ArbiterMcp {
    backend: Arc<dyn Backend>,
}

/// A tool's failure, shown to the caller as an error result (not a
/// protocol error) so that the model reads it.
#[derive(Debug)]
struct ToolError(Value);

impl ToolError {
    fn arguments(message: impl Into<String>) -> ToolError {
        ToolError(json!({"error": {"code": "invalid_arguments", "message": message.into()}}))
    }
    fn unreachable(message: String) -> ToolError {
        ToolError(json!({"error": {"code": "unreachable", "message": message}}))
    }
    fn api(a: &ApiAnswer) -> ToolError {
        let (code, message) = match a.body.get("error") {
            Some(e) => (
                e.get("code").cloned().unwrap_or(Value::Null),
                e.get("message").cloned().unwrap_or(Value::Null),
            ),
            None => (Value::Null, a.body.clone()),
        };
        ToolError(json!({"error": {"status": a.status, "code": code, "message": message}}))
    }
}

type ToolResult = Result<Value, ToolError>;

fn arg<'a>(args: &'a JsonObject, name: &str) -> Option<&'a Value> {
    args.get(name).filter(|v| !v.is_null())
}

fn arg_str(args: &JsonObject, name: &str) -> Result<Option<String>, ToolError> {
    match arg(args, name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ToolError::arguments(format!("{name} must be a string"))),
    }
}

fn req_str(args: &JsonObject, name: &str) -> Result<String, ToolError> {
    arg_str(args, name)?.ok_or_else(|| ToolError::arguments(format!("{name} is required")))
}

fn arg_int(args: &JsonObject, name: &str) -> Result<Option<i64>, ToolError> {
    match arg(args, name) {
        None => Ok(None),
        Some(v) => v
            .as_i64()
            .map(Some)
            .ok_or_else(|| ToolError::arguments(format!("{name} must be an integer"))),
    }
}

fn req_id(args: &JsonObject, name: &str) -> Result<i64, ToolError> {
    let id =
        arg_int(args, name)?.ok_or_else(|| ToolError::arguments(format!("{name} is required")))?;
    if id < 1 {
        return Err(ToolError::arguments(format!("{name} must be 1 or more")));
    }
    Ok(id)
}

/// The body of a plan submission or dry run from the tool's arguments.
fn submission(args: &JsonObject) -> Result<Value, ToolError> {
    let stack = req_str(args, "stack")?;
    let plan = arg(args, "plan")
        .ok_or_else(|| ToolError::arguments("plan is required"))?
        .clone();
    if !plan.is_object() {
        return Err(ToolError::arguments(
            "plan must be the JSON object `terraform show -json PLANFILE` prints",
        ));
    }
    let mut body = json!({"stack": stack, "plan": plan});
    if let Some(i) = arg_str(args, "intent")? {
        body["intent"] = Value::String(i);
    }
    Ok(body)
}

/// Whether the change request is out of review (any status but
/// `pending_review`; an unreadable status is not a decision).
fn is_decided(change: &Value) -> bool {
    change
        .get("status")
        .and_then(Value::as_str)
        .and_then(|s| s.parse::<arbiter_api::ChangeStatus>().ok())
        .is_some_and(|s| s != arbiter_api::ChangeStatus::PendingReview)
}

/// The built-in rules' metadata, by id (compiled no rule: metadata only).
fn builtin_rule(id: &str) -> Option<Value> {
    static RULES: OnceLock<Vec<arbiter_policy::RuleMeta>> = OnceLock::new();
    let rules = RULES.get_or_init(|| {
        match arbiter_policy::RulePack::for_types(&[], Some(&Default::default())) {
            Ok(p) => p.rules().to_vec(),
            Err(e) => {
                tracing::error!(error = %e, "reading the built-in rules' metadata");
                Vec::new()
            }
        }
    });
    rules
        .iter()
        .find(|r| r.id == id)
        .and_then(|r| serde_json::to_value(r).ok())
}

fn findings(change: &Value) -> Vec<Value> {
    change
        .pointer("/verdict/findings")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

impl ArbiterMcp {
    /// A server over `backend`.
    pub fn new(backend: Arc<dyn Backend>) -> ArbiterMcp {
        ArbiterMcp { backend }
    }

    async fn api(&self, cx: &RequestContext<RoleServer>, call: ApiCall) -> ToolResult {
        let a = self
            .backend
            .send(cx, call)
            .await
            .map_err(ToolError::unreachable)?;
        if (200..300).contains(&a.status) {
            Ok(a.body)
        } else {
            Err(ToolError::api(&a))
        }
    }

    async fn change(&self, cx: &RequestContext<RoleServer>, id: i64) -> ToolResult {
        self.api(cx, ApiCall::get(format!("/api/v1/change-requests/{id}")))
            .await
    }

    /// A runs endpoint: a 404 from the router's fallback (no such route)
    /// means this server has no runs.
    async fn runs(&self, cx: &RequestContext<RoleServer>, path: String) -> ToolResult {
        let a = self
            .backend
            .send(cx, ApiCall::get(path))
            .await
            .map_err(ToolError::unreachable)?;
        if (200..300).contains(&a.status) {
            return Ok(a.body);
        }
        let no_route = a.status == 404
            && a.body
                .pointer("/error/message")
                .and_then(Value::as_str)
                .is_some_and(|m| m.starts_with("no such endpoint"));
        if no_route {
            return Err(ToolError(json!({"error": {
                "status": 404,
                "code": "runs_unavailable",
                "message": "runs are not available on this server (it has no /api/v1/runs endpoint)",
            }})));
        }
        Err(ToolError::api(&a))
    }

    async fn run_tool(
        &self,
        name: &str,
        args: &JsonObject,
        cx: &RequestContext<RoleServer>,
    ) -> ToolResult {
        match name {
            "preflight_plan" => {
                let body = submission(args)?;
                let mut r = self
                    .api(cx, ApiCall::post("/api/v1/evaluate", &body))
                    .await?;
                let approved = r.get("status").and_then(Value::as_str) == Some("approved");
                r["would_approve"] = Value::Bool(approved);
                Ok(r)
            }
            "submit_change" => {
                let body = submission(args)?;
                let key = req_str(args, "idempotency_key")?;
                let mut call = ApiCall::post("/api/v1/change-requests", &body);
                call.headers.push(("idempotency-key", key));
                self.api(cx, call).await
            }
            "get_change" => self.change(cx, req_id(args, "id")?).await,
            "wait_for_decision" => {
                let id = req_id(args, "id")?;
                let asked = arg_int(args, "timeout_seconds")?.unwrap_or(30).max(0) as u64;
                let limit = Duration::from_secs(asked).min(self.backend.max_wait());
                let start = tokio::time::Instant::now();
                loop {
                    let change = self.change(cx, id).await?;
                    let decided = is_decided(&change);
                    let waited = start.elapsed();
                    if decided || waited >= limit || cx.ct.is_cancelled() {
                        return Ok(json!({
                            "decided": decided,
                            "waited_ms": waited.as_millis() as u64,
                            "change": change,
                        }));
                    }
                    let nap = POLL.min(limit - waited);
                    tokio::select! {
                        _ = tokio::time::sleep(nap) => {}
                        _ = cx.ct.cancelled() => {}
                    }
                }
            }
            "explain_finding" => {
                let id = req_id(args, "change_id")?;
                let change = self.change(cx, id).await?;
                let all = findings(&change);
                let found = match arg_int(args, "index")? {
                    Some(i) => all.get(usize::try_from(i).unwrap_or(usize::MAX)).cloned(),
                    None => {
                        let rule = arg_str(args, "rule_id")?.ok_or_else(|| {
                            ToolError::arguments("give rule_id (and address) or index")
                        })?;
                        let address = arg_str(args, "address")?;
                        all.iter()
                            .find(|f| {
                                f.get("rule_id").and_then(Value::as_str) == Some(rule.as_str())
                                    && address.as_deref().is_none_or(|a| {
                                        f.get("address").and_then(Value::as_str) == Some(a)
                                    })
                            })
                            .cloned()
                    }
                };
                let finding = found.ok_or_else(|| {
                    ToolError(json!({"error": {
                        "code": "not_found",
                        "message": format!("change request {id} has no such finding ({} findings)", all.len()),
                    }}))
                })?;
                let rule = finding
                    .get("rule_id")
                    .and_then(Value::as_str)
                    .and_then(builtin_rule)
                    .unwrap_or(Value::Null);
                Ok(json!({"change_id": id, "finding": finding, "rule": rule}))
            }
            "suggest_fixes" => {
                let id = req_id(args, "change_id")?;
                let change = self.change(cx, id).await?;
                let fixes: Vec<Value> = findings(&change)
                    .iter()
                    .filter(|f| f.get("waiver").is_none_or(Value::is_null))
                    .map(|f| {
                        let rule_id = f.get("rule_id").and_then(Value::as_str).unwrap_or("");
                        let remediation = f
                            .get("remediation")
                            .filter(|r| r.is_string())
                            .cloned()
                            .or_else(|| {
                                builtin_rule(rule_id).and_then(|r| r.get("remediation").cloned())
                            })
                            .unwrap_or(Value::Null);
                        json!({
                            "rule_id": rule_id,
                            "address": f.get("address").cloned().unwrap_or(Value::Null),
                            "severity": f.get("severity").cloned().unwrap_or(Value::Null),
                            "effect": f.get("effect").cloned().unwrap_or(Value::Null),
                            "message": f.get("message").cloned().unwrap_or(Value::Null),
                            "fix": f.get("fix").cloned().unwrap_or(Value::Null),
                            "remediation": remediation,
                        })
                    })
                    .collect();
                let mut out = json!({
                    "change_id": id,
                    "decision": change.pointer("/verdict/decision").cloned().unwrap_or(Value::Null),
                    "fixes": fixes,
                });
                if let Some(c) = change.pointer("/verdict/counterfactual") {
                    out["counterfactual"] = c.clone();
                }
                Ok(out)
            }
            "list_policies" => self.api(cx, ApiCall::get("/api/v1/policy-sets")).await,
            "get_run" => {
                let id = req_id(args, "id")?;
                self.runs(cx, format!("/api/v1/runs/{id}")).await
            }
            "get_run_logs" => {
                let id = req_id(args, "id")?;
                let logs = self.runs(cx, format!("/api/v1/runs/{id}/logs")).await?;
                Ok(json!({"id": id, "logs": logs}))
            }
            other => Err(ToolError::arguments(format!("no tool named {other:?}"))),
        }
    }
}

impl ServerHandler for ArbiterMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("arbiter", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "Arbiter judges Terraform/OpenTofu plans. Call preflight_plan before submit_change; \
                 when a change is held, suggest_fixes and explain_finding say what would pass. \
                 People approve held changes: no tool approves or applies.",
            )
    }

    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        Cow::Borrowed(PROTOCOL_VERSIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(
            TOOLS.iter().map(ToolSpec::tool).collect(),
        ))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        TOOLS.iter().find(|t| t.name == name).map(ToolSpec::tool)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        if !TOOLS.iter().any(|t| t.name == request.name) {
            return Err(ErrorData::invalid_params(
                format!("no tool named {:?}", request.name),
                None,
            ));
        }
        let args = request.arguments.unwrap_or_default();
        let result = match self.run_tool(&request.name, &args, &context).await {
            Ok(v) => CallToolResult::structured(v),
            Err(ToolError(e)) => CallToolResult::error(vec![ContentBlock::text(e.to_string())]),
        };
        Ok(result.into())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn decided_means_out_of_the_waiting_statuses() {
        for s in ["pending_review", "submitted"] {
            assert!(!is_decided(&json!({"status": s})), "{s}");
        }
        for s in ["approved", "rejected", "cancelled", "expired", "applied"] {
            assert!(is_decided(&json!({"status": s})), "{s}");
        }
        assert!(!is_decided(&json!({})));
    }

    #[test]
    fn every_tool_has_object_schemas_and_only_submit_writes() {
        let mut names = std::collections::BTreeSet::new();
        for spec in TOOLS {
            assert!(names.insert(spec.name), "{} twice", spec.name);
            let t = spec.tool();
            assert_eq!(t.input_schema.get("type"), Some(&json!("object")));
            let out = t.output_schema.unwrap();
            assert_eq!(out.get("type"), Some(&json!("object")), "{}", spec.name);
            let a = t.annotations.unwrap();
            assert_eq!(a.read_only_hint, Some(spec.name != "submit_change"));
            assert_eq!(a.destructive_hint, Some(false));
        }
        assert!(!names
            .iter()
            .any(|n| n.contains("approve") || n.contains("apply") || n.contains("confirm")));
    }

    #[test]
    fn arguments_are_checked_before_any_call() {
        let args = |v: Value| match v {
            Value::Object(m) => m,
            _ => JsonObject::new(),
        };
        assert!(submission(&args(json!({"stack": "web"}))).is_err());
        assert!(submission(&args(json!({"stack": "web", "plan": "text"}))).is_err());
        assert!(submission(&args(json!({"stack": 3, "plan": {}}))).is_err());
        let b = submission(&args(json!({"stack": "web", "plan": {}, "intent": "x"}))).unwrap();
        assert_eq!(b, json!({"stack": "web", "plan": {}, "intent": "x"}));
        assert!(req_id(&args(json!({"id": 0})), "id").is_err());
        assert!(req_id(&args(json!({"id": "7"})), "id").is_err());
        assert_eq!(req_id(&args(json!({"id": 7})), "id").unwrap(), 7);
    }
}
