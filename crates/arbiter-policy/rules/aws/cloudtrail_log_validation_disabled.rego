package arbiter.rules.aws.cloudtrail_log_validation_disabled

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-CT-003",
	"title": "CloudTrail log file validation disabled",
	"severity": "low",
	"effect": "warn",
	"category": "logging",
	"provider": "aws",
	"resource_types": ["aws_cloudtrail"],
	"rationale": "Without digest files nobody can prove that delivered log files were not altered or deleted after the fact.",
	"remediation": "Set enable_log_file_validation = true.",
	"checkov": ["CKV_AWS_36"],
	"fix": [{"path": "enable_log_file_validation", "value": true}],
}

findings contains f if {
	some r in input.resources.aws_cloudtrail
	not r.values.enable_log_file_validation == true
	not r.unknown.enable_log_file_validation == true
	f := {
		"address": r.address,
		"message": "log file validation is disabled (enable_log_file_validation is not true)",
		"evidence": {"enable_log_file_validation": object.get(r.values, "enable_log_file_validation", null)},
		"severity": lib.on_update(r, "low", "medium"),
	}
}
