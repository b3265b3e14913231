package arbiter.rules.aws.log_group_not_kms_encrypted

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-LOGS-002",
	"title": "CloudWatch log group not encrypted with a KMS key",
	"severity": "low",
	"effect": "info",
	"category": "encryption",
	"provider": "aws",
	"resource_types": ["aws_cloudwatch_log_group"],
	"rationale": "Logs often contain identifiers and occasionally secrets; a customer-managed KMS key adds an access boundary beyond IAM logs permissions.",
	"remediation": "Set kms_key_id to a KMS key whose policy allows the logs service principal.",
	"checkov": ["CKV_AWS_158"],
}

findings contains f if {
	some r in input.resources.aws_cloudwatch_log_group
	r.values.kms_key_id == null
	not r.unknown.kms_key_id == true
	f := {
		"address": r.address,
		"message": "log group is not encrypted with a KMS key",
		"evidence": {},
	}
}
