package arbiter.rules.aws.lambda_dlq_missing

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-LAMBDA-001",
	"title": "Lambda function without a dead-letter queue",
	"severity": "low",
	"effect": "info",
	"category": "compute",
	"provider": "aws",
	"resource_types": ["aws_lambda_function"],
	"rationale": "Asynchronous invocations that keep failing are dropped silently unless a dead-letter queue (or on-failure destination) keeps them for inspection and replay.",
	"remediation": "Add dead_letter_config { target_arn = aws_sqs_queue.dlq.arn } (or an aws_lambda_function_event_invoke_config on-failure destination).",
	"checkov": ["CKV_AWS_116"],
}

findings contains f if {
	some r in input.resources.aws_lambda_function
	not r.values.dead_letter_config[0].target_arn
	not r.unknown.dead_letter_config == true
	f := {
		"address": r.address,
		"message": "no dead-letter queue configured",
		"evidence": {},
	}
}
