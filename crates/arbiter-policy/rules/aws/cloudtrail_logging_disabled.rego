package arbiter.rules.aws.cloudtrail_logging_disabled

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-CT-001",
	"title": "CloudTrail logging turned off",
	"severity": "high",
	"effect": "escalate",
	"category": "logging",
	"provider": "aws",
	"resource_types": ["aws_cloudtrail"],
	"rationale": "Stopping a trail (enable_logging = false) blinds audit and incident response; attackers do exactly this first.",
	"remediation": "Keep enable_logging = true (the default).",
	"checkov": ["CKV_AWS_251"],
	"fix": [{"path": "enable_logging", "value": true}],
}

findings contains f if {
	some r in input.resources.aws_cloudtrail
	r.values.enable_logging == false
	f := {
		"address": r.address,
		"message": "trail logging is disabled (enable_logging = false)",
		"evidence": {"enable_logging": false},
	}
}
