package arbiter.rules.aws.rds_skip_final_snapshot

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-RDS-005",
	"title": "Database deletion skips the final snapshot",
	"severity": "low",
	"effect": "warn",
	"category": "database",
	"provider": "aws",
	"resource_types": ["aws_db_instance", "aws_rds_cluster"],
	"rationale": "With skip_final_snapshot = true a destroy or replacement deletes the data without a last backup. Acceptable for throw-away environments, risky for production (warn on prod, info elsewhere).",
	"remediation": "Set skip_final_snapshot = false and final_snapshot_identifier on databases whose data matters.",
	"checkov": [],
	"fix": [{"path": "skip_final_snapshot", "value": false}],
}

findings contains f if {
	some t in metadata.resource_types
	some r in input.resources[t]
	r.values.skip_final_snapshot == true
	f := {
		"address": r.address,
		"message": "deleting this database will not take a final snapshot (skip_final_snapshot = true)",
		"evidence": {"skip_final_snapshot": true},
		"effect": lib.by_env(input.stack, "warn", "info"),
	}
}
