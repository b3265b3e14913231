package arbiter.rules.aws.s3_access_logging_disabled

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-S3-005",
	"title": "S3 bucket access logging not enabled",
	"severity": "low",
	"effect": "info",
	"category": "logging",
	"provider": "aws",
	"resource_types": ["aws_s3_bucket", "aws_s3_bucket_logging"],
	"rationale": "Server access logs record who read or changed which object; without them a data exposure cannot be scoped.",
	"remediation": "Add aws_s3_bucket_logging with target_bucket pointing at a dedicated log bucket (or enable CloudTrail S3 data events).",
	"checkov": ["CKV_AWS_18"],
	"joins": true,
}

findings contains f if {
	count(object.get(input.resources, "aws_s3_bucket_logging", [])) == 0
	some r in input.resources.aws_s3_bucket
	not r.values.logging[0].target_bucket
	f := {
		"address": r.address,
		"message": "bucket access logging is not enabled",
		"evidence": {},
	}
}
