package arbiter.rules.aws.lambda_env_plaintext_secret

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-SECRET-002",
	"title": "Secret hard-coded in Lambda environment variables",
	"severity": "high",
	"effect": "escalate",
	"category": "secrets",
	"provider": "aws",
	"resource_types": ["aws_lambda_function"],
	"rationale": "Environment variables are visible to anyone with lambda:GetFunctionConfiguration, end up in Terraform state and plan output, and are not rotated; a literal password, token or access key there leaks.",
	"remediation": "Store the secret in Secrets Manager or SSM SecureString and pass only its ARN/name (e.g. DB_PASSWORD_SECRET_ARN), reading it at runtime with the function's role.",
	"checkov": ["CKV_AWS_45"],
}

findings contains f if {
	some r in input.resources.aws_lambda_function
	value := r.values.environment[0].variables[key]
	value != null
	count(value) >= 6
	some message in _problems(key, value)
	f := {
		"address": r.address,
		"message": sprintf(message, [key]),
		"evidence": {"variable": key},
	}
}

_problems(key, value) := {m |
	some m in ["environment variable %s holds a literal secret-like value", "environment variable %s contains an AWS access key id"]
	_problem(m, key, value)
}

_problem("environment variable %s holds a literal secret-like value", key, value) if {
	_secret_like_key(key)
	lib.literal_secret_value(value)
	not lib.has_access_key_id(value) # reported with the more specific message below
}

_problem("environment variable %s contains an AWS access key id", _, value) if lib.has_access_key_id(value)

# cheap stems first, then the precise test
_secret_like_key(key) if {
	k := lower(key)
	some stem in ["pass", "pwd", "secret", "token", "key", "cred"]
	contains(k, stem)
	lib.secret_like_name(k)
}
