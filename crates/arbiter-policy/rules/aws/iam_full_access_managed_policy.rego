package arbiter.rules.aws.iam_full_access_managed_policy

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-IAM-012",
	"title": "IAMFullAccess attached, or AdministratorAccess in an SSO permission set",
	"severity": "high",
	"effect": "escalate",
	"category": "iam",
	"provider": "aws",
	"resource_types": [
		"aws_iam_role_policy_attachment", "aws_iam_user_policy_attachment", "aws_iam_group_policy_attachment",
		"aws_iam_policy_attachment", "aws_iam_role", "aws_ssoadmin_managed_policy_attachment",
	],
	"rationale": "The AWS managed IAMFullAccess policy can grant itself everything else, so whoever holds it is an administrator in waiting. AdministratorAccess in an IAM Identity Center permission set is how people are usually made administrators: legitimate, but a person must confirm who gets it.",
	"remediation": "Attach a customer-managed policy limited to the IAM actions and resources needed (with a permissions boundary for role creation); keep administrator permission sets few and assigned to named groups.",
	"checkov": ["CKV2_AWS_56"],
}

_policy_name(arn) := name if {
	is_string(arn)
	startswith(arn, "arn:aws")
	contains(arn, ":iam::aws:policy/")
	parts := split(arn, "/")
	name := parts[count(parts) - 1]
}

findings contains f if {
	some t in ["aws_iam_role_policy_attachment", "aws_iam_user_policy_attachment", "aws_iam_group_policy_attachment", "aws_iam_policy_attachment"]
	some r in input.resources[t]
	_policy_name(r.values.policy_arn) == "IAMFullAccess"
	f := {
		"address": r.address,
		"message": "attaches the AWS managed IAMFullAccess policy",
		"evidence": {"policy_arn": r.values.policy_arn},
	}
}

findings contains f if {
	some r in input.resources.aws_iam_role
	some arn in lib.str_array(lib.attr(r, "managed_policy_arns"))
	_policy_name(arn) == "IAMFullAccess"
	f := {
		"address": r.address,
		"message": "attaches the AWS managed IAMFullAccess policy",
		"evidence": {"policy_arn": arn},
	}
}

findings contains f if {
	some r in input.resources.aws_ssoadmin_managed_policy_attachment
	name := _policy_name(r.values.managed_policy_arn)
	name in {"AdministratorAccess", "IAMFullAccess"}
	f := {
		"address": r.address,
		"message": sprintf("permission set gets the AWS managed %s policy", [name]),
		"evidence": {"policy_arn": r.values.managed_policy_arn},
	}
}
