package arbiter.rules.aws.provider_static_credentials

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-SECRET-005",
	"title": "Static AWS credentials in a provider block",
	"severity": "high",
	"effect": "escalate",
	"category": "secrets",
	"provider": "aws",
	"resource_types": ["provider.aws"],
	"rationale": "An access key written into the provider block ends up in version control, in plan files and in every CI log that prints them; anyone who reads the repository can act as that identity.",
	"remediation": "Remove access_key/secret_key from the provider block; use an assumed role, environment variables, a shared credentials profile or the CI system's OIDC federation, and rotate the exposed key.",
	"checkov": ["CKV_AWS_41"],
}

findings contains f if {
	some r in input.resources["provider.aws"]
	some attr in ["access_key", "secret_key", "token"]
	v := r.values[attr]
	is_string(v)
	v != ""
	not lib.is_unknown(r, attr)
	f := {
		"address": r.address,
		# Name the attribute, never the value.
		"message": sprintf("provider block sets %s as a literal value", [attr]),
		"evidence": {"attribute": attr},
	}
}
