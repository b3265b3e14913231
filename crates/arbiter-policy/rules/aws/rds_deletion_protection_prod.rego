package arbiter.rules.aws.rds_deletion_protection_prod

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-RDS-004",
	"title": "Production database without deletion protection",
	"severity": "low",
	"effect": "warn",
	"category": "database",
	"provider": "aws",
	"resource_types": ["aws_db_instance", "aws_rds_cluster", "aws_neptune_cluster", "aws_docdb_cluster"],
	"rationale": "On a production stack, deletion protection is the last guard against a mistaken destroy or replacement wiping the database.",
	"remediation": "Set deletion_protection = true on production databases (it must be turned off explicitly before an intended deletion).",
	"checkov": ["CKV_AWS_293", "CKV_AWS_139", "CKV2_AWS_58"],
	"fix": [{"path": "deletion_protection", "value": true}],
}

findings contains f if {
	input.stack.environment == "prod"
	some t in metadata.resource_types
	some r in input.resources[t]
	not r.values.deletion_protection == true
	not r.unknown.deletion_protection == true
	f := {
		"address": r.address,
		"message": "production database has deletion protection disabled",
		"evidence": {"deletion_protection": object.get(r.values, "deletion_protection", null)},
		"severity": lib.on_update(r, "low", "medium"),
	}
}
