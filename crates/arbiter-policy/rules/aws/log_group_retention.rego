package arbiter.rules.aws.log_group_retention

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-LOGS-001",
	"title": "CloudWatch log group retention not set or under a year",
	"severity": "low",
	"effect": "info",
	"category": "logging",
	"provider": "aws",
	"resource_types": ["aws_cloudwatch_log_group"],
	"rationale": "Without an explicit retention, logs are kept (and billed) forever; retention shorter than a year may not meet audit requirements.",
	"remediation": "Set retention_in_days explicitly (365 or more for audit-relevant logs).",
	"checkov": ["CKV_AWS_66", "CKV_AWS_338"],
}

findings contains f if {
	some r in input.resources.aws_cloudwatch_log_group
	r.values.retention_in_days < 365
	r.values.retention_in_days > 0
	f := {
		"address": r.address,
		"message": "retention_in_days is less than 365",
		"evidence": {"retention_in_days": r.values.retention_in_days},
	}
}

findings contains f if {
	some r in input.resources.aws_cloudwatch_log_group
	r.values.retention_in_days in {null, 0}
	not r.unknown.retention_in_days == true
	f := {
		"address": r.address,
		"message": "retention_in_days is not set (logs never expire)",
		"evidence": {"retention_in_days": r.values.retention_in_days},
	}
}
