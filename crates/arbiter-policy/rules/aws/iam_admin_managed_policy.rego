package arbiter.rules.aws.iam_admin_managed_policy

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-IAM-005",
	"title": "AdministratorAccess or IAMFullAccess managed policy attached",
	"severity": "high",
	"effect": "escalate",
	"category": "iam",
	"provider": "aws",
	"resource_types": [
		"aws_iam_role_policy_attachment", "aws_iam_user_policy_attachment", "aws_iam_group_policy_attachment",
		"aws_iam_policy_attachment", "aws_iam_role", "aws_ssoadmin_managed_policy_attachment",
	],
	"rationale": "The AWS managed AdministratorAccess and IAMFullAccess policies give full control of the account (IAMFullAccess can grant itself everything else). Attaching them must be a deliberate, reviewed decision.",
	"remediation": "Attach a customer-managed least-privilege policy instead; if administrator access is really needed, grant it through a break-glass role with MFA and session logging rather than to a workload.",
	"checkov": ["CKV_AWS_274", "CKV2_AWS_56"],
}

_admin_policies := {"AdministratorAccess", "IAMFullAccess"}

_admin_policy_name(arn) := name if {
	is_string(arn)
	contains(arn, ":iam::aws:policy/")
	parts := split(arn, "/")
	name := parts[count(parts) - 1]
	name in _admin_policies
}

findings contains f if {
	some t in ["aws_iam_role_policy_attachment", "aws_iam_user_policy_attachment", "aws_iam_group_policy_attachment", "aws_iam_policy_attachment"]
	some r in input.resources[t]
	name := _admin_policy_name(lib.attr(r, "policy_arn"))
	f := {
		"address": r.address,
		"message": sprintf("attaches the AWS managed %s policy", [name]),
		"evidence": {"policy_arn": lib.attr(r, "policy_arn")},
	}
}

findings contains f if {
	some r in input.resources.aws_iam_role
	some arn in lib.str_array(lib.attr(r, "managed_policy_arns"))
	name := _admin_policy_name(arn)
	f := {
		"address": r.address,
		"message": sprintf("attaches the AWS managed %s policy", [name]),
		"evidence": {"policy_arn": arn},
	}
}

findings contains f if {
	some r in input.resources.aws_ssoadmin_managed_policy_attachment
	name := _admin_policy_name(lib.attr(r, "managed_policy_arn"))
	f := {
		"address": r.address,
		"message": sprintf("attaches the AWS managed %s policy", [name]),
		"evidence": {"policy_arn": lib.attr(r, "managed_policy_arn")},
	}
}
