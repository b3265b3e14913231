package arbiter.rules.aws.apigw_data_trace

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-APIGW-002",
	"title": "API Gateway logs full request and response bodies (data trace)",
	"severity": "low",
	"effect": "warn",
	"category": "logging",
	"provider": "aws",
	"resource_types": ["aws_api_gateway_method_settings"],
	"rationale": "Data trace writes whole requests and responses (tokens, passwords, personal data) to CloudWatch Logs, where everyone who can read the log group can read them.",
	"remediation": "Set settings.data_trace_enabled = false outside short debugging sessions; use logging_level = \"INFO\" or access logs for routine visibility.",
	"checkov": ["CKV_AWS_276"],
	"fix": [{"path": "settings[0].data_trace_enabled", "value": false}],
}

findings contains f if {
	some r in input.resources.aws_api_gateway_method_settings
	lib.truthy(r.values.settings[0].data_trace_enabled)
	f := {
		"address": r.address,
		"message": "data trace logs full request and response bodies (data_trace_enabled = true)",
		"evidence": {"method_path": object.get(r.values, "method_path", null)},
	}
}
