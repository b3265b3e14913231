package arbiter.rules.aws.lambda_tracing_disabled

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-LAMBDA-002",
	"title": "Lambda X-Ray tracing not active",
	"severity": "low",
	"effect": "info",
	"category": "logging",
	"provider": "aws",
	"resource_types": ["aws_lambda_function"],
	"rationale": "Active tracing records each invocation's downstream calls, which is how latency and error sources are found in distributed systems.",
	"remediation": "Add tracing_config { mode = \"Active\" } and allow xray:PutTraceSegments in the function role.",
	"checkov": ["CKV_AWS_50"],
}

findings contains f if {
	some r in input.resources.aws_lambda_function
	not r.values.tracing_config[0].mode == "Active"
	not r.unknown.tracing_config == true
	f := {
		"address": r.address,
		"message": "X-Ray tracing is not active",
		"evidence": {"tracing_config": object.get(r.values, "tracing_config", null)},
	}
}
