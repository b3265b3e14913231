//! Hand-built verdicts shared by the integration tests, and the golden-file
//! helper.
//!
//! The three verdicts cover the three decisions:
//! - [`approve_clean`]: nothing fired, cost not computed, two small changes;
//! - [`review_escalations`]: escalations, a warning, info, a pre-existing
//!   finding, a diff with a replace, a move, sensitive values and a resource
//!   with more attribute changes than are shown;
//! - [`reject_denies`]: deny findings including a pre-existing and a fixed
//!   one, hostile characters in a policy message, a finding without an
//!   address, over budget, and a plan warning.

#![allow(dead_code)]

use arbiter_report::RenderOptions;
use arbiter_testkit::golden::Golden;
use arbiter_verdict::{
    ActionSummary, AttributeDelta, ChangeRelation, ChangeView, CostComponent, CostCounts,
    CostSummary, CriticReport, Decision, Effect, Finding, PlanInfo, ResourceCost, Severity,
    SourceLocation, StackInfo, UnpricedResource, Verdict,
};
use serde_json::{json, Value};
use std::path::Path;

/// Options used for every golden file: fixed version and plan path, no colour.
pub fn golden_options() -> RenderOptions {
    RenderOptions {
        color: false,
        plan_path: Some("infra/prod/plan.json".to_string()),
        tool_version: "0.0.0-test".to_string(),
        max_findings: None,
    }
}

/// The three verdicts with the names their golden files use.
pub fn all() -> Vec<(&'static str, Verdict)> {
    vec![
        ("approve_clean", approve_clean()),
        ("review_escalations", review_escalations()),
        ("reject_denies", reject_denies()),
    ]
}

pub fn delta(path: &str, before: Value, after: Value) -> AttributeDelta {
    AttributeDelta {
        path: path.to_string(),
        before,
        after,
    }
}

pub fn change(address: &str, action: &str, attributes: Vec<AttributeDelta>) -> ChangeView {
    let resource_type = address.rsplit('.').nth(1).unwrap_or(address).to_string();
    ChangeView {
        address: address.to_string(),
        resource_type,
        action: action.to_string(),
        previous_address: None,
        attributes,
    }
}

pub struct FindingSpec<'a> {
    pub rule_id: &'a str,
    pub source: &'a str,
    pub severity: Severity,
    pub effect: Effect,
    pub address: Option<&'a str>,
    pub message: &'a str,
}

pub fn finding(spec: FindingSpec<'_>) -> Finding {
    Finding::new(
        spec.rule_id,
        spec.source,
        spec.severity,
        spec.effect,
        spec.address.map(str::to_string),
        spec.message,
    )
}

pub fn critic(name: &str, risk: f64, findings: usize, summary: &str) -> CriticReport {
    CriticReport {
        name: name.to_string(),
        risk,
        findings,
        summary: summary.to_string(),
    }
}

/// A verdict with nothing in it but the decision: the edge case every
/// renderer must survive.
pub fn empty(decision: Decision) -> Verdict {
    Verdict {
        decision,
        confidence: 100.0,
        summary: ActionSummary::default(),
        findings: Vec::new(),
        critics: Vec::new(),
        cost: CostSummary::default(),
        explanation: String::new(),
        stack: StackInfo::default(),
        plan: PlanInfo::default(),
        changes: Vec::new(),
        warnings: Vec::new(),
        counterfactual: None,
    }
}

fn component(
    name: &str,
    unit: &str,
    quantity: f64,
    price: f64,
    assumption: Option<&str>,
) -> CostComponent {
    CostComponent {
        name: name.to_string().into(),
        unit: unit.to_string().into(),
        quantity,
        unit_price_usd: price,
        monthly_usd: quantity * price,
        assumed: assumption.is_some(),
        assumption: assumption.map(|a| a.to_string().into()),
        price_key: Default::default(),
        price_source: Default::default(),
    }
}

/// A replaced database that becomes Multi-AZ, and a resource without a price.
pub fn ledger_cost() -> CostSummary {
    let backup = "no usage given: 0 assumed; set additional_backup_storage_gb in the usage file";
    CostSummary {
        monthly_before_usd: 110.78,
        monthly_after_usd: 221.56,
        monthly_delta_usd: 110.78,
        computed: true,
        note: None,
        region: Some("us-east-1".into()),
        catalogue: Some("embedded:test".into()),
        resources: vec![ResourceCost {
            address: "aws_db_instance.ledger".into(),
            resource_type: "aws_db_instance".into(),
            action: "replace".into(),
            region: "us-east-1".into(),
            monthly_before_usd: 110.78,
            monthly_after_usd: 221.56,
            monthly_delta_usd: 110.78,
            before: vec![
                component(
                    "Database instance (on-demand, Single-AZ, db.t3.large, mysql)",
                    "hours",
                    730.0,
                    0.136,
                    None,
                ),
                component(
                    "Storage (general purpose SSD, gp2, Single-AZ)",
                    "GB",
                    100.0,
                    0.115,
                    None,
                ),
                component("Additional backup storage", "GB", 0.0, 0.095, Some(backup)),
            ],
            after: vec![
                component(
                    "Database instance (on-demand, Multi-AZ, db.t3.large, mysql)",
                    "hours",
                    730.0,
                    0.272,
                    None,
                ),
                component(
                    "Storage (general purpose SSD, gp2, Multi-AZ)",
                    "GB",
                    100.0,
                    0.23,
                    None,
                ),
                component("Additional backup storage", "GB", 0.0, 0.095, Some(backup)),
            ],
            classes: vec![arbiter_verdict::CostClass::MultiAz],
            details: vec!["Multi-AZ db.t3.large (mysql), $0.272/hour".into()],
        }],
        unpriced: vec![UnpricedResource {
            address: "aws_mq_broker.events".into(),
            resource_type: "aws_mq_broker".into(),
            action: "create".into(),
            reason: "no cost model for aws_mq_broker yet".into(),
            kind: "no-price".into(),
        }],
        counts: CostCounts {
            priced: 1,
            free: 3,
            unpriced: 1,
            assumed_components: 1,
        },
        ..CostSummary::default()
    }
}

pub fn approve_clean() -> Verdict {
    Verdict {
        decision: Decision::Approve,
        confidence: 99.2,
        summary: ActionSummary {
            create: 1,
            update: 1,
            no_op: 3,
            ..ActionSummary::default()
        },
        findings: Vec::new(),
        critics: vec![
            critic("security", 0.0, 0, "nothing security-relevant changes"),
            critic("blast_radius", 0.008, 0, "2 low-impact changes in dev"),
        ],
        cost: CostSummary {
            computed: false,
            note: Some("no pricing catalogue configured".to_string()),
            ..CostSummary::default()
        },
        explanation: "Approved: no rule or policy fired, and confidence 99.2 is at or above \
                      the stack's threshold of 95."
            .to_string(),
        stack: StackInfo {
            name: Some("docs-site".to_string()),
            environment: Some("dev".to_string()),
            labels: vec!["team:docs".to_string()],
            monthly_budget_usd: None,
            auto_apply_threshold: 95.0,
            escalate_introduced_at: None,
        },
        plan: PlanInfo {
            format_version: Some("1.2".to_string()),
            terraform_version: Some("1.9.5".to_string()),
        },
        changes: vec![
            change(
                "aws_s3_object.index",
                "create",
                vec![
                    delta("key", Value::Null, json!("index.html")),
                    delta("content_type", Value::Null, json!("text/html")),
                ],
            ),
            change(
                "aws_cloudfront_distribution.site",
                "update",
                vec![delta(
                    "default_cache_behavior[0].default_ttl",
                    json!(3600),
                    json!(86400),
                )],
            ),
        ],
        warnings: Vec::new(),
        counterfactual: None,
    }
}

pub fn review_escalations() -> Verdict {
    let mut passrole = finding(FindingSpec {
        rule_id: "ARB-AWS-IAM-004",
        source: "builtin",
        severity: Severity::High,
        effect: Effect::Escalate,
        address: Some("aws_iam_role_policy.deployer"),
        message: "Policy allows iam:PassRole on any resource.",
    });
    passrole.title = Some("IAM PassRole on a wildcard resource".to_string());
    passrole.remediation =
        Some("Restrict iam:PassRole to the ARNs of the roles the service needs.".to_string());
    passrole.references = vec!["CKV_AWS_286".to_string()];
    passrole.evidence = json!({"action": "iam:PassRole", "resource": "*"});
    passrole.confidence_cost = 12.0;

    let mut replace_db = finding(FindingSpec {
        rule_id: "BLAST-REPLACE-STATEFUL",
        source: "critic:blast_radius",
        severity: Severity::Medium,
        effect: Effect::Escalate,
        address: Some("aws_db_instance.ledger"),
        message: "Replacing a stateful database destroys its data unless a snapshot is restored.",
    });
    replace_db.title = Some("Replacement of a stateful resource".to_string());
    replace_db.remediation = Some(
        "Take a snapshot first, or change the attribute that forces replacement in place."
            .to_string(),
    );
    replace_db.relation = ChangeRelation::Change;
    replace_db.confidence_cost = 9.5;

    let mut imds = finding(FindingSpec {
        rule_id: "ARB-AWS-EC2-010",
        source: "builtin",
        severity: Severity::Low,
        effect: Effect::Warn,
        address: Some("aws_instance.worker"),
        message: "Instance metadata service accepts IMDSv1 requests.",
    });
    imds.title = Some("IMDSv1 enabled".to_string());
    imds.remediation = Some("Set metadata_options.http_tokens = \"required\".".to_string());
    imds.references = vec![
        "CKV_AWS_79".to_string(),
        "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/configuring-IMDS-existing-instances.html"
            .to_string(),
    ];
    imds.confidence_cost = 2.04;
    #[allow(clippy::expect_used)] // a literal step
    let step = serde_json::from_value(
        json!({"path": "metadata_options[0].http_tokens", "value": "required"}),
    )
    .expect("a fix step");
    imds.fix = vec![step];

    let mut new_cost = finding(FindingSpec {
        rule_id: "COST-NEW-RESOURCE",
        source: "critic:cost",
        severity: Severity::Info,
        effect: Effect::Info,
        address: Some("aws_instance.worker"),
        message: "New t3.large instance adds $60.74 per month.",
    });
    new_cost.relation = ChangeRelation::Change;

    let mut versioning = finding(FindingSpec {
        rule_id: "ARB-AWS-S3-006",
        source: "builtin",
        severity: Severity::Low,
        effect: Effect::Warn,
        address: Some("aws_s3_bucket.exports"),
        message: "Bucket versioning is disabled.",
    });
    versioning.relation = ChangeRelation::Preexisting;
    versioning.remediation = Some("Enable versioning on the bucket.".to_string());

    let mut lambda_attrs = vec![delta(
        "environment[0].variables.API_KEY",
        json!("(sensitive)"),
        json!("(sensitive)"),
    )];
    for i in 0..12 {
        lambda_attrs.push(delta(
            &format!("tags.k{i:02}"),
            Value::Null,
            json!(format!("v{i}")),
        ));
    }

    let mut moved = change("aws_s3_bucket.exports", "no-op", Vec::new());
    moved.previous_address = Some("aws_s3_bucket.export".to_string());

    Verdict {
        decision: Decision::Review,
        confidence: 71.26,
        summary: ActionSummary {
            create: 2,
            update: 2,
            delete: 0,
            replace: 1,
            no_op: 4,
            read: 1,
            forget: 0,
        },
        findings: vec![passrole, replace_db, imds, new_cost, versioning],
        critics: vec![
            critic("security", 0.18, 2, "iam:PassRole on *; IMDSv1"),
            critic(
                "blast_radius",
                0.1204,
                1,
                "replaces 1 stateful resource in staging",
            ),
            critic(
                "cost",
                0.07,
                2,
                "+$110.78/month, 11.1 % of the $1,000 budget; 1 unpriced",
            ),
            critic(
                "history",
                0.0,
                0,
                "every resource type was changed here before",
            ),
        ],
        cost: ledger_cost(),
        explanation:
            "Needs review: 2 findings need a person (iam:PassRole on any resource; \
                      replacing aws_db_instance.ledger). Confidence 71.3 is below the threshold 95."
                .to_string(),
        stack: StackInfo {
            name: Some("payments-api".to_string()),
            environment: Some("staging".to_string()),
            labels: vec!["team:payments".to_string()],
            monthly_budget_usd: Some(1000.0),
            auto_apply_threshold: 95.0,
            escalate_introduced_at: None,
        },
        plan: PlanInfo {
            format_version: Some("1.2".to_string()),
            terraform_version: Some("1.9.5".to_string()),
        },
        changes: vec![
            change(
                "aws_instance.worker",
                "create",
                vec![
                    delta("ami", Value::Null, json!("ami-0abcd1234ef567890")),
                    delta("instance_type", Value::Null, json!("t3.large")),
                    delta(
                        "metadata_options[0].http_tokens",
                        Value::Null,
                        json!("optional"),
                    ),
                ],
            ),
            change(
                "aws_iam_role_policy.deployer",
                "create",
                vec![delta("policy", Value::Null, json!("(known after apply)"))],
            ),
            change(
                "aws_security_group.api",
                "update",
                vec![
                    delta(
                        "ingress[0].cidr_blocks[0]",
                        json!("10.0.0.0/16"),
                        json!("10.1.0.0/16"),
                    ),
                    delta(
                        "description",
                        json!("api"),
                        json!("API | internal <b>only</b>"),
                    ),
                ],
            ),
            change("aws_lambda_function.webhook", "update", lambda_attrs),
            change(
                "aws_db_instance.ledger",
                "replace",
                vec![
                    delta("engine_version", json!("14.9"), json!("15.4")),
                    delta("password", json!("(sensitive)"), json!("(sensitive)")),
                ],
            ),
            moved,
            change("data.aws_caller_identity.current", "read", Vec::new()),
        ],
        warnings: Vec::new(),
        counterfactual: Some(arbiter_verdict::Counterfactual {
            decision: Decision::Review,
            confidence: 81.4,
            steps_applied: 1,
            findings_fixed: 1,
            remaining: vec![arbiter_verdict::RemainingFinding {
                rule_id: "ARB-AWS-IAM-004".to_string(),
                address: Some("aws_iam_role_policy.deployer".to_string()),
                message: "Policy allows iam:PassRole on any resource.".to_string(),
                severity: Severity::High,
                effect: Effect::Escalate,
                held_by_floor: false,
            }],
        }),
    }
}

pub fn reject_denies() -> Verdict {
    let mut ssh = finding(FindingSpec {
        rule_id: "ARB-AWS-SG-001",
        source: "builtin",
        severity: Severity::Critical,
        effect: Effect::Deny,
        address: Some("aws_security_group.bastion"),
        message: "Ingress from 0.0.0.0/0 to port 22 (SSH).",
    });
    ssh.title = Some("Security group open to the world on an admin port".to_string());
    ssh.remediation =
        Some("Restrict cidr_blocks to the VPN range, or use SSM Session Manager.".to_string());
    ssh.evidence = json!({"cidr": "0.0.0.0/0", "port": 22});
    ssh.references = vec!["CKV_AWS_24".to_string()];
    ssh.confidence_cost = 40.0;

    // A policy message with every character that could break a table, open
    // a code span, inject HTML or mention a team.
    let mut lock = finding(FindingSpec {
        rule_id: "policy:main.deny",
        source: "policy",
        severity: Severity::High,
        effect: Effect::Deny,
        address: Some("aws_s3_bucket.audit_logs"),
        message: "S3 buckets in prod need `object_lock_enabled` | see ADR-12 <script>alert(1)</script> @acme/security",
    });
    lock.location = Some(SourceLocation {
        file: "policies/s3.rego".to_string(),
        line: Some(14),
    });
    lock.confidence_cost = 25.0;

    let mut delete_table = finding(FindingSpec {
        rule_id: "BLAST-DELETE-STATEFUL",
        source: "critic:blast_radius",
        severity: Severity::High,
        effect: Effect::Escalate,
        address: Some("aws_dynamodb_table.sessions"),
        message: "Deletes a DynamoDB table that 3 resources depend on.",
    });
    delete_table.relation = ChangeRelation::Change;
    delete_table.remediation =
        Some("Confirm the data is no longer needed and export it before deleting.".to_string());
    delete_table.confidence_cost = 8.0;

    let mut rotation = finding(FindingSpec {
        rule_id: "ARB-AWS-KMS-002",
        source: "builtin",
        severity: Severity::Medium,
        effect: Effect::Deny,
        address: Some("aws_kms_key.logs"),
        message: "Key rotation is disabled.",
    });
    rotation.relation = ChangeRelation::Preexisting;
    rotation.remediation = Some("Set enable_key_rotation = true.".to_string());

    let mut legacy_logging = finding(FindingSpec {
        rule_id: "ARB-AWS-S3-009",
        source: "builtin",
        severity: Severity::Low,
        effect: Effect::Warn,
        address: Some("aws_s3_bucket.legacy"),
        message: "Server access logging is disabled.",
    });
    legacy_logging.relation = ChangeRelation::Preexisting;

    let mut validation = finding(FindingSpec {
        rule_id: "ARB-AWS-CT-001",
        source: "builtin",
        severity: Severity::Medium,
        effect: Effect::Deny,
        address: Some("aws_cloudtrail.main"),
        message: "CloudTrail log file validation is disabled.",
    });
    validation.relation = ChangeRelation::Fixed;

    let owner_tags = finding(FindingSpec {
        rule_id: "ARB-TAGS-001",
        source: "builtin",
        severity: Severity::Info,
        effect: Effect::Info,
        address: None,
        message: "3 resources lack an owner tag.",
    });

    Verdict {
        decision: Decision::Reject,
        confidence: 12.44,
        summary: ActionSummary {
            create: 1,
            update: 2,
            delete: 1,
            replace: 0,
            no_op: 12,
            read: 0,
            forget: 0,
        },
        findings: vec![
            ssh,
            lock,
            delete_table,
            rotation,
            legacy_logging,
            validation,
            owner_tags,
        ],
        critics: vec![
            critic("security", 0.85, 4, "world-open SSH; object lock missing"),
            critic("blast_radius", 0.12, 1, "deletes 1 stateful table in prod"),
            critic("history", 0.05, 0, "first DynamoDB deletion on this stack"),
        ],
        cost: CostSummary {
            monthly_before_usd: 1210.5,
            monthly_after_usd: 1185.25,
            monthly_delta_usd: -25.25,
            computed: true,
            note: Some("usage estimates from usage.yml".to_string()),
            ..CostSummary::default()
        },
        explanation: "Rejected: 3 deny findings.\n\
                      - ARB-AWS-SG-001 on aws_security_group.bastion\n\
                      - policy:main.deny on aws_s3_bucket.audit_logs\n\
                      - ARB-AWS-KMS-002 on aws_kms_key.logs (pre-existing)\n\
                      Deleting aws_dynamodb_table.sessions would also need a person."
            .to_string(),
        stack: StackInfo {
            name: Some("core-network".to_string()),
            environment: Some("prod".to_string()),
            labels: vec!["team:platform".to_string()],
            monthly_budget_usd: Some(1000.0),
            auto_apply_threshold: 98.0,
            escalate_introduced_at: None,
        },
        plan: PlanInfo {
            format_version: Some("1.3".to_string()),
            terraform_version: Some("1.10.0".to_string()),
        },
        changes: vec![
            change(
                "aws_security_group.bastion",
                "update",
                vec![delta(
                    "ingress[0].cidr_blocks[0]",
                    json!("10.8.0.0/16"),
                    json!("0.0.0.0/0"),
                )],
            ),
            change(
                "aws_s3_bucket.audit_logs",
                "create",
                vec![
                    delta("bucket", Value::Null, json!("acme-audit-logs")),
                    delta("object_lock_enabled", Value::Null, json!(false)),
                ],
            ),
            change("aws_dynamodb_table.sessions", "delete", Vec::new()),
            change(
                "aws_cloudtrail.main",
                "update",
                vec![delta("enable_log_file_validation", json!(false), json!(true))],
            ),
        ],
        warnings: vec![
            "plan format_version 1.3 is newer than 1.2, the newest this build knows; unknown fields were ignored"
                .to_string(),
        ],
        counterfactual: None,
    }
}

/// The golden files of `tests/golden`, refreshed by `UPDATE_GOLDEN=1 cargo
/// test -p arbiter-report --test it <test>::` (see `arbiter_testkit::golden`).
pub fn golden(test: &str) -> Golden {
    Golden::new(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden"),
        format!("cargo test -p arbiter-report --test it {test}::"),
    )
}
