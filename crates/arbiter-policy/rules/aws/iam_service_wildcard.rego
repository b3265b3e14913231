package arbiter.rules.aws.iam_service_wildcard

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-IAM-004",
	"title": "IAM policy grants every action of a service on every resource",
	"severity": "medium",
	"effect": "escalate",
	"category": "iam",
	"provider": "aws",
	"resource_types": [
		"aws_iam_policy", "aws_iam_role_policy", "aws_iam_user_policy", "aws_iam_group_policy",
		"aws_iam_role", "data.aws_iam_policy_document",
	],
	"rationale": "A service wildcard such as s3:*, ec2:* or dynamodb:* on Resource \"*\" grants destructive and data-exfiltration actions (delete buckets, change bucket policies, terminate instances) across the whole account, far beyond what a workload needs.",
	"remediation": "Replace the service wildcard with the specific actions needed (e.g. s3:GetObject, s3:PutObject) and scope Resource to the ARNs of the resources the workload owns.",
	"checkov": ["CKV_AWS_288", "CKV_AWS_289", "CKV_AWS_290", "CKV_AWS_355"],
}

# Services whose wildcard is already reported as privilege escalation (ARB-AWS-IAM-002/003).
_escalation_services := {"iam", "sts"}

_candidates := lib.identity_candidates(input.resources)

findings contains f if {
	some [address, label, raw] in _candidates
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
