package arbiter.rules.aws.rds_backup_retention_zero

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-RDS-003",
	"title": "RDS automated backups disabled",
	"severity": "high",
	"effect": "warn",
	"category": "database",
	"provider": "aws",
	"resource_types": ["aws_db_instance", "aws_rds_cluster"],
	"rationale": "backup_retention_period = 0 turns off automated backups and point-in-time recovery; a bad migration or deletion is then unrecoverable. On production stacks this needs a person's sign-off.",
	"remediation": "Set backup_retention_period to at least 7 (35 for critical data) and keep a backup_window outside peak hours.",
	"checkov": ["CKV_AWS_133"],
	"fix": [{"path": "backup_retention_period", "value": 7}],
}

findings contains f if {
	some t in metadata.resource_types
	some r in input.resources[t]
	r.values.backup_retention_period == 0
	# read replicas legitimately run without their own backups
	object.get(r.values, "replicate_source_db", null) == null
	f := {
		"address": r.address,
		"message": "automated backups are disabled (backup_retention_period = 0)",
		"evidence": {"backup_retention_period": 0},
		"effect": lib.by_env(input.stack, "escalate", "warn"),
		"severity": lib.by_env(input.stack, "high", "low"),
	}
}
