package arbiter.rules.aws.iam_admin_managed_policy

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-IAM-005",
	"title": "AWS managed AdministratorAccess policy attached to a role, user or group",
	"severity": "critical",
	"effect": "deny",
	"category": "iam",
	"provider": "aws",
	"resource_types": [
		"aws_iam_role_policy_attachment", "aws_iam_user_policy_attachment", "aws_iam_group_policy_attachment",
		"aws_iam_policy_attachment", "aws_iam_role", "aws_iam_role_policy_attachments_exclusive",
		"aws_iam_user_policy_attachments_exclusive", "aws_iam_group_policy_attachments_exclusive",
	],
	"rationale": "arn:aws:iam::aws:policy/AdministratorAccess is Action \"*\" on Resource \"*\": the role, user or group it is attached to can read every secret, delete every resource and grant itself anything, exactly as a hand-written * on * policy (ARB-AWS-IAM-001). Attaching it by ARN must not get through where writing the same policy out would not.",
	"remediation": "Attach a customer-managed least-privilege policy instead; if administrator access is really needed, grant it to people through IAM Identity Center (a permission set) or a break-glass role with MFA and session logging, not to a workload. A stack that deliberately manages admin roles can re-grade the rule: [rules.effect] \"ARB-AWS-IAM-005\" = \"escalate\".",
	"checkov": ["CKV_AWS_274"],
}

# The AWS managed AdministratorAccess policy in any partition (arn:aws:, arn:aws-us-gov:,
# arn:aws-cn:...).
_admin_arn(arn) if {
	is_string(arn)
	startswith(arn, "arn:aws")
	endswith(arn, ":iam::aws:policy/AdministratorAccess")
}

findings contains f if {
	some t in ["aws_iam_role_policy_attachment", "aws_iam_user_policy_attachment", "aws_iam_group_policy_attachment", "aws_iam_policy_attachment"]
	some r in input.resources[t]
	_admin_arn(r.values.policy_arn)
	f := {
		"address": r.address,
		"message": "attaches the AWS managed AdministratorAccess policy",
		"evidence": {"policy_arn": r.values.policy_arn},
	}
}

findings contains f if {
	some r in input.resources.aws_iam_role
	some arn in lib.str_array(lib.attr(r, "managed_policy_arns"))
	_admin_arn(arn)
	f := {
		"address": r.address,
		"message": "attaches the AWS managed AdministratorAccess policy",
		"evidence": {"policy_arn": arn},
	}
}

findings contains f if {
	some t in ["aws_iam_role_policy_attachments_exclusive", "aws_iam_user_policy_attachments_exclusive", "aws_iam_group_policy_attachments_exclusive"]
	some r in input.resources[t]
	some arn in lib.str_array(lib.attr(r, "policy_arns"))
	_admin_arn(arn)
	f := {
		"address": r.address,
		"message": "attaches the AWS managed AdministratorAccess policy",
		"evidence": {"policy_arn": arn},
	}
}
