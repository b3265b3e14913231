package arbiter.rules.aws.iam_privilege_escalation

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-IAM-003",
	"title": "IAM privilege-escalation actions allowed on every resource",
	"severity": "high",
	"effect": "escalate",
	"category": "iam",
	"provider": "aws",
	"resource_types": [
		"aws_iam_policy", "aws_iam_role_policy", "aws_iam_user_policy", "aws_iam_group_policy",
		"aws_iam_role", "data.aws_iam_policy_document",
	],
	"rationale": "Actions such as iam:CreatePolicyVersion, iam:AttachRolePolicy, iam:PutUserPolicy, iam:UpdateAssumeRolePolicy, iam:CreateAccessKey or sts:AssumeRole on Resource \"*\" let a principal grant itself (or impersonate) administrator access.",
	"remediation": "Remove these actions, or scope Resource to specific ARNs that cannot lead to broader privileges and add a permissions boundary; keep IAM administration in a dedicated, audited role.",
	"checkov": ["CKV_AWS_286", "CKV_AWS_287", "CKV_AWS_288", "CKV_AWS_289", "CKV_AWS_355", "CKV_AWS_110", "CKV2_AWS_40", "CKV_AWS_107", "CKV_AWS_108", "CKV_AWS_109", "CKV_AWS_356"],
}

# Known escalation primitives (Rhino Security Labs' list, less iam:PassRole which has its own rule).
escalation_actions := [
	"iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion", "iam:CreateAccessKey", "iam:CreateLoginProfile",
	"iam:UpdateLoginProfile", "iam:AttachUserPolicy", "iam:AttachGroupPolicy", "iam:AttachRolePolicy",
	"iam:PutUserPolicy", "iam:PutGroupPolicy", "iam:PutRolePolicy", "iam:AddUserToGroup",
	"iam:UpdateAssumeRolePolicy", "iam:PutUserPermissionsBoundary", "iam:PutRolePermissionsBoundary",
	"iam:DeleteUserPermissionsBoundary", "iam:DeleteRolePermissionsBoundary", "sts:AssumeRole",
]

_candidates := lib.identity_candidates(input.resources)

findings contains f if {
	some [address, label, raw] in _candidates
	lib.raw_on_all_resources(raw)
	not lib.raw_full_admin(raw) # reported by ARB-AWS-IAM-001
	st := lib.normalize_statement(raw)
	some pattern in _patterns(st)
	granted := [a | some a in escalation_actions; _pattern_grants(pattern, st, a)]
	count(granted) > 0
	f := {
		"address": address,
		"message": sprintf("%s allows %s on every resource, which grants privilege-escalation actions (%s)", [label, pattern, _summary(granted)]),
		"evidence": {"document": label, "sid": st.Sid, "pattern": pattern, "escalation_actions": granted},
	}
}

_patterns(st) := {p | some p in st.Action} | {"NotAction" | count(st.NotAction) > 0}

_pattern_grants("NotAction", st, a) if {
	lib.grants(st, a)
	not _explicit(st, a)
}

_pattern_grants(pattern, _, a) if {
	pattern != "NotAction"
	lib.action_matches(pattern, a)
}

# NotAction grants are only reported for actions no explicit pattern already names.
_explicit(st, a) if {
	some p in st.Action
	lib.action_matches(p, a)
}

_summary(actions) := concat(", ", actions) if count(actions) <= 4

else := sprintf("%s and %d more", [concat(", ", array.slice(actions, 0, 3)), count(actions) - 3])
