package arbiter.rules.aws.ssm_parameter_plaintext_secret

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-SECRET-001",
	"title": "Secret stored as a plaintext SSM parameter",
	"severity": "high",
	"effect": "escalate",
	"category": "secrets",
	"provider": "aws",
	"resource_types": ["aws_ssm_parameter"],
	"rationale": "A parameter named like a password, token or key but of type String (not SecureString) is stored and returned unencrypted, readable by anyone with ssm:GetParameter and visible in the console.",
	"remediation": "Use type = \"SecureString\" (optionally key_id) for secrets, or store them in Secrets Manager.",
	"checkov": ["CKV2_AWS_34"],
	"fix": [{"path": "type", "value": "SecureString"}],
}

findings contains f if {
	some r in input.resources.aws_ssm_parameter
	r.values.type in {"String", "StringList"}
	name := r.values.name
	lib.secret_like_name(_leaf(name))
	f := {
		"address": r.address,
		"message": sprintf("parameter %s looks like a secret but is stored as plaintext type %s", [name, r.values.type]),
		"evidence": {"name": name, "type": r.values.type},
	}
}

# the last path segment of /app/prod/db_password
_leaf(name) := parts[count(parts) - 1] if {
	is_string(name)
	parts := split(name, "/")
}
