package arbiter.rules.aws.iam_service_wildcard

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-IAM-004",
	"title": "IAM policy grants wildcard actions (service:* on every resource, or * on specific resources)",
	"severity": "medium",
	"effect": "escalate",
	"category": "iam",
	"provider": "aws",
	"resource_types": [
		"aws_iam_policy", "aws_iam_role_policy", "aws_iam_user_policy", "aws_iam_group_policy",
		"aws_iam_role", "data.aws_iam_policy_document",
	],
	"rationale": "A service wildcard such as s3:*, ec2:* or dynamodb:* on Resource \"*\" grants destructive and data-exfiltration actions (delete buckets, change bucket policies, terminate instances) across the whole account; Action \"*\" on named resources grants every action of every service on them (for a role ARN that includes rewriting its trust and permissions).",
	"remediation": "Replace the service wildcard with the specific actions needed (e.g. s3:GetObject, s3:PutObject) and scope Resource to the ARNs of the resources the workload owns.",
	"checkov": ["CKV_AWS_63", "CKV_AWS_286", "CKV_AWS_287", "CKV_AWS_288", "CKV_AWS_289", "CKV_AWS_290", "CKV_AWS_355", "CKV2_AWS_40", "CKV_AWS_107", "CKV_AWS_108", "CKV_AWS_109", "CKV_AWS_111", "CKV_AWS_356"],
}

# Services whose wildcard is already reported as privilege escalation (ARB-AWS-IAM-002/003).
_escalation_services := {"iam", "sts"}

_candidates := lib.identity_candidates(input.resources)

findings contains f if {
	some [address, label, raw] in _candidates
	lib.raw_on_all_resources(raw)
	contains(json.marshal(raw.Action), ":*")
	st := lib.normalize_statement(raw)
	some pattern in st.Action
	p := lower(pattern)
	endswith(p, ":*")
	service := trim_suffix(p, ":*")
	not contains(service, "*")
	not service in _escalation_services
	f := {
		"address": address,
		"message": sprintf("%s allows %s on every resource", [label, pattern]),
		"evidence": {"document": label, "sid": st.Sid, "service": service, "resources": st.Resource},
	}
}

# Action "*" on named resources (on every resource it is ARB-AWS-IAM-001).
findings contains f if {
	some [address, label, raw] in _candidates
	lib.raw_has(raw.Action, "*")
	not lib.raw_on_all_resources(raw)
	st := lib.normalize_statement(raw)
	count(st.Resource) > 0
	resources := concat(", ", sort(st.Resource))
	f := {
		"address": address,
		"message": sprintf("%s allows every action (\"*\") on %s", [label, resources]),
		"evidence": {"document": label, "sid": st.Sid, "resources": st.Resource},
	}
}
