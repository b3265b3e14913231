package arbiter.rules.aws.apigw_access_logging_disabled

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-APIGW-001",
	"title": "API Gateway stage without access logging",
	"severity": "low",
	"effect": "info",
	"category": "logging",
	"provider": "aws",
	"resource_types": ["aws_api_gateway_stage", "aws_apigatewayv2_stage"],
	"rationale": "Access logs record who called which API route and with what result; without them abuse cannot be traced.",
	"remediation": "Add access_log_settings { destination_arn = aws_cloudwatch_log_group.api.arn format = ... }.",
	"checkov": ["CKV_AWS_76"],
}

findings contains f if {
	some t in metadata.resource_types
	some r in input.resources[t]
	not r.values.access_log_settings[0].destination_arn
	not r.unknown.access_log_settings == true
	not lib.is_unknown_path(r, ["access_log_settings", 0, "destination_arn"])
	f := {
		"address": r.address,
		"message": "stage has no access logging",
		"evidence": {},
	}
}
