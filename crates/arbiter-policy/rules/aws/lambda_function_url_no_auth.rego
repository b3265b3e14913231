package arbiter.rules.aws.lambda_function_url_no_auth

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-LAMBDA-003",
	"title": "Lambda function URL without authentication",
	"severity": "medium",
	"effect": "warn",
	"category": "compute",
	"provider": "aws",
	"resource_types": ["aws_lambda_function_url"],
	"rationale": "authorization_type = \"NONE\" makes the function invokable by anyone on the internet; the function itself must then do all authentication, throttling and abuse handling.",
	"remediation": "Use authorization_type = \"AWS_IAM\", or front the function with API Gateway / CloudFront with authentication and rate limits.",
	"checkov": ["CKV_AWS_258"],
	"fix": [{"path": "authorization_type", "value": "AWS_IAM"}],
}

findings contains f if {
	some r in input.resources.aws_lambda_function_url
	r.values.authorization_type == "NONE"
	f := {
		"address": r.address,
		"message": "function URL is public (authorization_type = NONE)",
		"evidence": {"authorization_type": "NONE"},
	}
}
