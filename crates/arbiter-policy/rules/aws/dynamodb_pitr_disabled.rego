package arbiter.rules.aws.dynamodb_pitr_disabled

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-DDB-002",
	"title": "DynamoDB point-in-time recovery disabled",
	"severity": "low",
	"effect": "info",
	"category": "database",
	"provider": "aws",
	"resource_types": ["aws_dynamodb_table"],
	"rationale": "Point-in-time recovery lets a table be restored to any second of the last 35 days after a bad write or deletion.",
	"remediation": "Add point_in_time_recovery { enabled = true }.",
	"checkov": ["CKV_AWS_28"],
}

findings contains f if {
	some r in input.resources.aws_dynamodb_table
	not r.values.point_in_time_recovery[0].enabled == true
	f := {
		"address": r.address,
		"message": "point-in-time recovery is disabled",
		"evidence": {},
	}
}
