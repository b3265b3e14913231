package arbiter.rules.aws.iam_access_key_user

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-IAM-010",
	"title": "Long-lived IAM user or access key created",
	"severity": "low",
	"effect": "info",
	"category": "iam",
	"provider": "aws",
	"resource_types": ["aws_iam_access_key", "aws_iam_user", "aws_iam_user_login_profile"],
	"rationale": "IAM users are long-lived identities outside single sign-on; their static access keys never expire on their own, end up in Terraform state and CI variables, and are the most common source of leaked AWS credentials.",
	"remediation": "Prefer roles with short-lived credentials (IAM Identity Center, OIDC federation for CI, instance/task roles); if a key is unavoidable, rotate it and encrypt it with pgp_key.",
	"checkov": ["CKV_AWS_273"],
}

findings contains f if {
	some r in input.resources.aws_iam_access_key
	not lib.lstr(lib.attr(r, "status")) == "inactive"
	f := {
		"address": r.address,
		"message": "creates a long-lived access key for an IAM user",
		"evidence": {"user": lib.attr(r, "user")},
	}
}

findings contains f if {
	some t in ["aws_iam_user", "aws_iam_user_login_profile"]
	some r in input.resources[t]
	"create" in r.actions
	f := {
		"address": r.address,
		"message": _user_message[t],
		"evidence": {},
	}
}

_user_message := {
	"aws_iam_user": "creates an IAM user (a long-lived identity outside single sign-on)",
	"aws_iam_user_login_profile": "creates a console password for an IAM user",
}
