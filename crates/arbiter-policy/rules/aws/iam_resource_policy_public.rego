package arbiter.rules.aws.iam_resource_policy_public

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-IAM-009",
	"title": "Resource policy grants access to everyone",
	"severity": "high",
	"effect": "escalate",
	"category": "iam",
	"provider": "aws",
	"resource_types": [
		"aws_sqs_queue_policy", "aws_sqs_queue", "aws_sns_topic_policy", "aws_sns_topic",
		"aws_ecr_repository_policy", "aws_secretsmanager_secret_policy", "aws_secretsmanager_secret",
		"aws_lambda_permission", "aws_glacier_vault", "aws_opensearch_domain_policy", "aws_elasticsearch_domain_policy",
	],
	"rationale": "A resource-based policy that allows Principal \"*\" without a condition restricting the caller (source account, ARN, organisation, VPC endpoint...) exposes the queue, topic, repository, secret or function to every AWS account.",
	"remediation": "Name the trusted accounts or services in Principal, or add a Condition such as aws:SourceArn, aws:SourceAccount or aws:PrincipalOrgID; for aws_lambda_permission set source_arn / source_account.",
	"checkov": ["CKV_AWS_168", "CKV_AWS_169", "CKV_AWS_72", "CKV_AWS_32", "CKV_AWS_301", "CKV_AWS_167", "CKV_AWS_387"],
}

# [resource type, attribute holding the policy JSON]
_policy_attrs := [
	["aws_sqs_queue_policy", "policy"], ["aws_sqs_queue", "policy"], ["aws_sns_topic_policy", "policy"],
	["aws_sns_topic", "policy"], ["aws_ecr_repository_policy", "policy"], ["aws_secretsmanager_secret_policy", "policy"],
	["aws_secretsmanager_secret", "policy"], ["aws_glacier_vault", "access_policy"],
	["aws_opensearch_domain_policy", "access_policies"], ["aws_elasticsearch_domain_policy", "access_policies"],
]

findings contains f if {
	some [t, a] in _policy_attrs
	some r in input.resources[t]
	r.values[a] != null
	p := r.values[a]
	contains(p, "*")
	some st in lib.statements(p)
	st.Effect == "Allow"
	lib.public_principal(st)
	not lib.has_restricting_condition(st)
	actions := concat(", ", sort(st.Action))
	f := {
		"address": r.address,
		"message": sprintf("resource policy allows %s to any principal (\"*\") without a restricting condition", [actions]),
		"evidence": {"sid": st.Sid, "actions": st.Action},
	}
}

findings contains f if {
	some r in input.resources.aws_lambda_permission
	r.values.principal == "*"
	lib.attr(r, "source_arn") == null
	lib.attr(r, "source_account") == null
	lib.attr(r, "principal_org_id") == null
	not lib.is_unknown(r, "source_arn")
	not lib.is_unknown(r, "source_account")
	f := {
		"address": r.address,
		"message": sprintf("lets any principal (\"*\") call %s without source_arn or source_account", [lib.str(lib.attr(r, "action"))]),
		"evidence": {"action": lib.attr(r, "action"), "function_url_auth_type": lib.attr(r, "function_url_auth_type")},
	}
}
