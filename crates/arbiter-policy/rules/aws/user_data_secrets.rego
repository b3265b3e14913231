package arbiter.rules.aws.user_data_secrets

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-SECRET-003",
	"title": "Credentials embedded in instance user data",
	"severity": "high",
	"effect": "escalate",
	"category": "secrets",
	"provider": "aws",
	"resource_types": ["aws_instance", "aws_launch_template", "aws_launch_configuration"],
	"rationale": "User data is readable by anyone who can describe the instance or template and by every process on the instance through the metadata service; access keys, private keys or passwords placed there leak.",
	"remediation": "Fetch secrets at boot from Secrets Manager or SSM Parameter Store (SecureString) using the instance role, and remove them from user_data / user_data_base64.",
	"checkov": ["CKV_AWS_46"],
}

# The user data texts of a resource: plain user_data (unless it is the provider's SHA-1
# digest), user_data_base64 decoded, and launch template user_data (base64) decoded.
_texts(r) := {lib.decoded_text(s) | some a in ["user_data", "user_data_base64"]; s := lib.attr(r, a); is_string(s); not _digest(s)}

_digest(s) if {
	count(s) == 40
	trim(lower(s), "0123456789abcdef") == ""
}

findings contains f if {
	some t in metadata.resource_types
	some r in input.resources[t]
	r.values.user_data != null
	some f in _findings(r)
}

findings contains f if {
	some t in ["aws_instance", "aws_launch_configuration"]
	some r in input.resources[t]
	r.values.user_data_base64 != null
	some f in _findings(r)
}

_findings(r) := {f |
	texts := _texts(r)
	kinds := {k | some text in texts; some k in lib.secret_markers(text)}
	some kind in kinds
	f := {
		"address": r.address,
		"message": sprintf("user data contains a hard-coded %s", [kind]),
		"evidence": {"kind": kind},
	}
}
