//! `arbiter submit`: a plan to the server as a change request.

use super::*;
/// `arbiter submit`.
#[derive(Args, Debug)]
#[command(
    after_help = "Exit codes: 0 approved, 2 pending review, 3 rejected, 1 error.\n\n\
As an agent: arbiter submit plan.json --stack web --key agent.key (the request is signed; no token).\n\
As a person or CI: with ARBITER_TOKEN set."
)]
pub struct SubmitArgs {
    /// The plan (`terraform show -json PLANFILE > plan.json`).
    pub plan: PathBuf,
    /// Target stack.
    #[arg(long, short = 's')]
    pub stack: String,
    /// What the change is for.
    #[arg(long)]
    pub intent: Option<String>,
    /// Sign as an agent with this private key (from `arbiter agent keygen`).
    #[arg(long, value_name = "FILE", env = "ARBITER_AGENT_KEY")]
    pub key: Option<PathBuf>,
    /// Idempotency key: a retry with the same key returns the same change request.
    #[arg(long, value_name = "KEY")]
    pub idempotency_key: Option<String>,
    /// Source commit.
    #[arg(long)]
    pub commit: Option<String>,
    /// Source repository.
    #[arg(long)]
    pub repository: Option<String>,
    /// Only ask whether it would be approved (nothing is stored).
    #[arg(long)]
    pub dry_run: bool,
}

pub(super) fn cr_summary(cr: &Value) -> String {
    let mut out = format!(
        "change request {} on {}: {} (decision {}, confidence {})\n",
        field(cr, "id"),
        field(cr, "stack"),
        field(cr, "status"),
        field(cr, "decision"),
        cr["confidence"]
            .as_f64()
            .map(|c| format!("{c:.1}"))
            .unwrap_or_else(|| "-".into())
    );
    if let Some(r) = cr["reason"].as_str() {
        out.push_str(&format!("  reason: {r}\n"));
    }
    if let Some(e) = cr["verdict"]["explanation"].as_str() {
        out.push_str(&format!("  {e}\n"));
    }
    if let Some(d) = cr["cost_delta_usd"].as_f64() {
        out.push_str(&format!("  cost: {d:+.2} USD/month\n"));
    }
    for r in cr["reviews"].as_array().cloned().unwrap_or_default() {
        out.push_str(&format!(
            "  review: {} {}{}\n",
            field(&r, "reviewer"),
            field(&r, "decision"),
            r["comment"]
                .as_str()
                .map(|c| format!(": {c}"))
                .unwrap_or_default()
        ));
    }
    out
}

/// Runs `arbiter submit`.
pub fn submit(a: SubmitArgs, server: &ServerArgs) -> Result<u8> {
    let bytes = arbiter_plan::read::read_limited(&a.plan)
        .with_context(|| format!("reading plan {}", a.plan.display()))?;
    let text = arbiter_plan::read::decode_plan(&bytes)
        .map_err(|e| e.in_file(&a.plan))
        .with_context(|| format!("reading plan {}", a.plan.display()))?;
    let plan: Box<serde_json::value::RawValue> = match serde_json::from_str(&text) {
        Ok(plan) => plan,
        Err(e) => {
            let e = match arbiter_plan::read::not_plan_json(text.as_bytes()) {
                Some(kind) => anyhow::Error::new(arbiter_plan::PlanError::NotPlanJson {
                    kind,
                    file: Some(a.plan.display().to_string()),
                }),
                None => anyhow::Error::new(e),
            };
            return Err(e.context(format!("reading plan {}", a.plan.display())));
        }
    };
    let source = (a.commit.is_some() || a.repository.is_some())
        .then(|| json!({"commit": a.commit, "repository": a.repository}));
    let body = json!({"stack": a.stack, "plan": plan, "intent": a.intent, "source": source});
    let c = Client::new(server, a.key.as_deref())?;
    let bytes = serde_json::to_vec(&body)?;
    let mut headers = Vec::new();
    if let Some(k) = &a.idempotency_key {
        headers.push(("idempotency-key", k.clone()));
    }
    let path = if a.dry_run {
        "/api/v1/evaluate"
    } else {
        "/api/v1/change-requests"
    };
    let v = c.send("POST", path, Some(bytes), &headers)?.ok()?;
    if a.dry_run {
        c.print(&v, |v| {
            let mut s = format!("would be {}", field(v, "status"));
            if let Some(r) = v["reason"].as_str() {
                s.push_str(&format!(": {r}"));
            }
            s.push('\n');
            if let Some(e) = v["verdict"]["explanation"].as_str() {
                s.push_str(&format!("  {e}\n"));
            }
            s
        });
        return Ok(crate::exit::status_text(v["status"].as_str().unwrap_or("")));
    }
    c.print(&v, cr_summary);
    Ok(crate::exit::status_text(v["status"].as_str().unwrap_or("")))
}
