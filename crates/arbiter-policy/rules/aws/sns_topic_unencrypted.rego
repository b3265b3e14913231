package arbiter.rules.aws.sns_topic_unencrypted

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-SNS-001",
	"title": "SNS topic not encrypted",
	"severity": "low",
	"effect": "info",
	"category": "encryption",
	"provider": "aws",
	"resource_types": ["aws_sns_topic"],
	"rationale": "SNS topics are not encrypted at rest unless a KMS key is configured; notifications frequently carry identifiers or payloads worth protecting.",
	"remediation": "Set kms_master_key_id (e.g. \"alias/aws/sns\" or a customer-managed key).",
	"checkov": ["CKV_AWS_26"],
}

findings contains f if {
	some r in input.resources.aws_sns_topic
	object.get(r.values, "kms_master_key_id", null) in {null, ""}
	not r.unknown.kms_master_key_id == true
	f := {
		"address": r.address,
		"message": "topic is not encrypted (kms_master_key_id unset)",
		"evidence": {},
	}
}
