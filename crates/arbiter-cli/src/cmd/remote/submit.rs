//! `arbiter submit`: a plan to the server as a change request.

use super::*;
use arbiter_api::{ChangeRequest, ChangeSource, DryRun, Submission};
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

pub(super) fn cr_summary(cr: &ChangeRequest) -> String {
    let mut out = format!(
        "change request {} on {}: {} (decision {}, confidence {})\n",
        cr.id,
        cr.stack,
        cr.status,
        dash(cr.decision.as_ref()),
        cr.confidence
            .map(|c| format!("{c:.1}"))
            .unwrap_or_else(|| "-".into())
    );
    if let Some(r) = &cr.reason {
        out.push_str(&format!("  reason: {r}\n"));
    }
    if let Some(e) = cr.explanation() {
        out.push_str(&format!("  {e}\n"));
    }
    if let Some(d) = cr.cost_delta_usd {
        out.push_str(&format!("  cost: {d:+.2} USD/month\n"));
    }
    for r in &cr.reviews {
        out.push_str(&format!(
            "  review: {} {}{}\n",
            r.reviewer,
            r.decision,
            r.comment
                .as_ref()
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
    let source = (a.commit.is_some() || a.repository.is_some()).then(|| ChangeSource {
        commit: a.commit,
        repository: a.repository,
        ..ChangeSource::default()
    });
    let body = Submission {
        stack: a.stack,
        plan,
        intent: a.intent,
        source,
    };
    let c = Client::new(server, a.key.as_deref())?;
    let mut headers = Vec::new();
    if let Some(k) = &a.idempotency_key {
        headers.push(("idempotency-key", k.clone()));
    }
    let path = if a.dry_run {
        "/api/v1/evaluate"
    } else {
        "/api/v1/change-requests"
    };
    let answer = c.send_with("POST", path, &body, &headers)?;
    if a.dry_run {
        let r = answer.parse::<DryRun>()?;
        c.print(&r, |v| {
            let mut s = format!("would be {}", v.status);
            if let Some(r) = &v.reason {
                s.push_str(&format!(": {r}"));
            }
            s.push('\n');
            if let Some(e) = v.explanation() {
                s.push_str(&format!("  {e}\n"));
            }
            s
        });
        return Ok(crate::exit::status(r.data.status));
    }
    let r = answer.parse::<ChangeRequest>()?;
    c.print(&r, cr_summary);
    Ok(crate::exit::status(r.data.status))
}
