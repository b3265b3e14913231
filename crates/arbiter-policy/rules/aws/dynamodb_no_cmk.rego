package arbiter.rules.aws.dynamodb_no_cmk

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-DDB-001",
	"title": "DynamoDB table not encrypted with a customer-managed key",
	"severity": "low",
	"effect": "info",
	"category": "encryption",
	"provider": "aws",
	"resource_types": ["aws_dynamodb_table"],
	"rationale": "DynamoDB always encrypts at rest, but with an AWS-owned key by default; a customer-managed KMS key adds key-policy control and CloudTrail visibility of every decrypt.",
	"remediation": "Add server_side_encryption { enabled = true kms_key_arn = aws_kms_key.table.arn }.",
	"checkov": ["CKV_AWS_119"],
}

findings contains f if {
	some r in input.resources.aws_dynamodb_table
	not r.values.server_side_encryption[0].enabled == true
	f := {
		"address": r.address,
		"message": "table uses the AWS-owned key instead of a customer-managed KMS key",
		"evidence": {},
	}
}
