package arbiter.rules.aws.iam_passrole_any_resource

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-IAM-002",
	"title": "iam:PassRole allowed on every role",
	"severity": "high",
	"effect": "escalate",
	"category": "iam",
	"provider": "aws",
	"resource_types": [
		"aws_iam_policy", "aws_iam_role_policy", "aws_iam_user_policy", "aws_iam_group_policy",
		"aws_iam_role", "data.aws_iam_policy_document",
	],
	"rationale": "iam:PassRole on Resource \"*\" lets the holder hand any role in the account, including administrator roles, to a service it controls (EC2, Lambda, Glue, ECS...) and act with that role's permissions: a classic privilege escalation path.",
	"remediation": "Restrict Resource to the ARNs of the specific roles the workload must pass, and add a Condition on iam:PassedToService.",
	"checkov": ["CKV_AWS_286", "CKV_AWS_110"],
}

_candidates := lib.identity_candidates(input.resources)

findings contains f if {
	some [address, label, raw] in _candidates
	lib.raw_on_all_resources(raw)
	not lib.raw_full_admin(raw) # reported by ARB-AWS-IAM-001
	st := lib.normalize_statement(raw)
	lib.grants(st, "iam:PassRole")
	some pattern in lib.granting_patterns(st, "iam:PassRole")
	f := {
		"address": address,
		"message": sprintf("%s allows iam:PassRole (via %s) on every resource", [label, pattern]),
		"evidence": {"document": label, "sid": st.Sid, "pattern": pattern, "resources": st.Resource},
	}
}
