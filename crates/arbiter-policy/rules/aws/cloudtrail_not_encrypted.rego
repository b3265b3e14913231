package arbiter.rules.aws.cloudtrail_not_encrypted

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-CT-004",
	"title": "CloudTrail logs not encrypted with a KMS key",
	"severity": "low",
	"effect": "warn",
	"category": "encryption",
	"provider": "aws",
	"resource_types": ["aws_cloudtrail"],
	"rationale": "SSE-KMS on trail logs adds a separately controlled key between anyone with S3 read access and the account's audit history.",
	"remediation": "Set kms_key_id to a customer-managed KMS key whose policy allows CloudTrail to encrypt.",
	"checkov": ["CKV_AWS_35"],
}

findings contains f if {
	some r in input.resources.aws_cloudtrail
	object.get(r.values, "kms_key_id", null) in {null, ""}
	not r.unknown.kms_key_id == true
	f := {
		"address": r.address,
		"message": "trail logs are not encrypted with a KMS key (kms_key_id unset)",
		"evidence": {},
	}
}
