package arbiter.rules.aws.iam_admin_wildcard

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-IAM-001",
	"title": "IAM policy grants full administrative access (* on *)",
	"severity": "critical",
	"effect": "deny",
	"category": "iam",
	"provider": "aws",
	"resource_types": [
		"aws_iam_policy", "aws_iam_role_policy", "aws_iam_user_policy", "aws_iam_group_policy",
		"aws_iam_role", "data.aws_iam_policy_document",
	],
	"rationale": "A statement that allows Action \"*\" on Resource \"*\" (or NotAction that still includes IAM) makes every principal it is attached to an account administrator: it can read every secret, delete every resource and grant itself anything.",
	"remediation": "List the specific actions and resource ARNs the workload needs (least privilege); use IAM Access Analyzer policy generation to derive them from CloudTrail.",
	"checkov": ["CKV_AWS_62", "CKV_AWS_63", "CKV_AWS_1", "CKV_AWS_49", "CKV_AWS_286", "CKV_AWS_287", "CKV_AWS_288", "CKV_AWS_289", "CKV_AWS_290", "CKV_AWS_355", "CKV2_AWS_40", "CKV_AWS_107", "CKV_AWS_108", "CKV_AWS_109", "CKV_AWS_111", "CKV_AWS_356"],
}

_candidates := lib.identity_candidates(input.resources)

findings contains f if {
	some [address, label, raw] in _candidates
	lib.raw_full_admin(raw)
	f := {
		"address": address,
		"message": sprintf("%s allows every action (\"*\") on every resource", [label]),
		"evidence": {"document": label, "sid": object.get(raw, "Sid", ""), "actions": object.get(raw, "Action", null), "resources": object.get(raw, "Resource", null)},
	}
}

# Allow + NotAction on every resource, where the exclusions leave IAM writable: still admin.
findings contains f if {
	some [address, label, raw] in _candidates
	raw.NotAction != null
	raw.NotAction != []
	lib.raw_on_all_resources(raw)
	not lib.raw_full_admin(raw)
	st := lib.normalize_statement(raw)
	lib.grants(st, "iam:AttachRolePolicy")
	f := {
		"address": address,
		"message": sprintf("%s allows every action except %s on every resource (NotAction), including IAM", [label, concat(", ", sort(st.NotAction))]),
		"evidence": {"document": label, "sid": st.Sid, "not_actions": st.NotAction, "resources": st.Resource},
	}
}
