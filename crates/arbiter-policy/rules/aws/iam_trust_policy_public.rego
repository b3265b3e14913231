package arbiter.rules.aws.iam_trust_policy_public

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-IAM-006",
	"title": "IAM role can be assumed by anyone",
	"severity": "critical",
	"effect": "deny",
	"category": "iam",
	"provider": "aws",
	"resource_types": ["aws_iam_role"],
	"rationale": "A trust policy (assume_role_policy) that allows Principal \"*\" or {\"AWS\": \"*\"} without a restricting Condition lets any AWS account in the world assume the role and use its permissions.",
	"remediation": "Name the trusted accounts, roles or services explicitly in Principal, or add a Condition such as aws:PrincipalOrgID, aws:PrincipalAccount or sts:ExternalId.",
	"checkov": ["CKV_AWS_60", "CKV_AWS_61"],
}

findings contains f if {
	some r in input.resources.aws_iam_role
	p := r.values.assume_role_policy
	p != null
	contains(p, "*")
	some st in lib.statements(p)
	st.Effect == "Allow"
	lib.public_principal(st)
	not lib.has_restricting_condition(st)
	actions := concat(", ", sort(st.Action))
	f := {
		"address": r.address,
		"message": sprintf("trust policy lets any principal (\"*\") call %s without a restricting condition", [actions]),
		"evidence": {"sid": st.Sid, "principal": st.Principal, "actions": st.Action},
	}
}
