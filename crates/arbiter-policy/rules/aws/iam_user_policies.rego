package arbiter.rules.aws.iam_user_policies

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-IAM-007",
	"title": "Policy attached directly to an IAM user",
	"severity": "low",
	"effect": "info",
	"category": "iam",
	"provider": "aws",
	"resource_types": ["aws_iam_user_policy", "aws_iam_user_policy_attachment", "aws_iam_policy_attachment"],
	"rationale": "Permissions granted to individual IAM users are hard to audit and tend to outlive their purpose; groups or roles keep access reviewable.",
	"remediation": "Attach the policy to an aws_iam_group (and add the user to it) or to a role assumed through SSO, instead of aws_iam_user_policy / aws_iam_user_policy_attachment.",
	"checkov": ["CKV_AWS_40"],
}

findings contains f if {
	some t in ["aws_iam_user_policy", "aws_iam_user_policy_attachment"]
	some r in input.resources[t]
	f := {
		"address": r.address,
		"message": "grants permissions directly to an IAM user",
		"evidence": {"user": lib.attr(r, "user")},
	}
}

findings contains f if {
	some r in input.resources.aws_iam_policy_attachment
	users := lib.str_array(lib.attr(r, "users"))
	count(users) > 0
	f := {
		"address": r.address,
		"message": "grants permissions directly to an IAM user",
		"evidence": {"users": users},
	}
}
