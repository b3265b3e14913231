package arbiter.rules.aws.s3_bucket_policy_public

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-S3-002",
	"title": "S3 bucket policy grants access to everyone",
	"severity": "critical",
	"effect": "deny",
	"category": "storage",
	"provider": "aws",
	"resource_types": ["aws_s3_bucket_policy", "aws_s3_bucket"],
	"rationale": "A bucket policy statement that allows Principal \"*\" (or {\"AWS\": \"*\"}) without a condition restricting the caller makes the bucket's objects readable (or writable) by anyone on the internet.",
	"remediation": "Remove the public statement or add a Condition such as aws:SourceArn / aws:SourceVpce / aws:PrincipalOrgID; serve public content through CloudFront origin access control with the CloudFront service principal.",
	"checkov": ["CKV_AWS_70"],
}

findings contains f if {
	some t in metadata.resource_types
	some r in input.resources[t]
	r.values.policy != null
	p := r.values.policy
	contains(p, "*")
	some st in lib.statements(p)
	st.Effect == "Allow"
	lib.public_principal(st)
	not lib.has_restricting_condition(st)
	actions := _actions(st)
	f := {
		"address": r.address,
		"message": sprintf("bucket policy allows %s to any principal (\"*\") without a restricting condition", [actions]),
		"evidence": {"sid": st.Sid, "actions": st.Action, "not_actions": st.NotAction, "resources": st.Resource},
	}
}

_actions(st) := concat(", ", sort(st.Action)) if count(st.Action) > 0

else := sprintf("every action except %s", [concat(", ", sort(st.NotAction))])
