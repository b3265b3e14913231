package arbiter.rules.aws.s3_public_access_block_disabled

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-S3-003",
	"title": "S3 Block Public Access setting disabled",
	"severity": "high",
	"effect": "escalate",
	"category": "storage",
	"provider": "aws",
	"resource_types": ["aws_s3_bucket_public_access_block", "aws_s3_account_public_access_block", "aws_s3_access_point"],
	"rationale": "Block Public Access is the guard rail that keeps a mistaken ACL or bucket policy from publishing data. Turning any of its four settings off (they default to false when omitted) re-opens that path and must be reviewed by a person.",
	"remediation": "Set block_public_acls, block_public_policy, ignore_public_acls and restrict_public_buckets to true; if a bucket must be public, document why and serve it through CloudFront instead.",
	"checkov": ["CKV_AWS_53", "CKV_AWS_54", "CKV_AWS_55", "CKV_AWS_56", "CKV_AWS_392"],
	"fix": [
		{"path": "block_public_acls", "value": true, "types": ["aws_s3_bucket_public_access_block", "aws_s3_account_public_access_block"]},
		{"path": "block_public_policy", "value": true, "types": ["aws_s3_bucket_public_access_block", "aws_s3_account_public_access_block"]},
		{"path": "ignore_public_acls", "value": true, "types": ["aws_s3_bucket_public_access_block", "aws_s3_account_public_access_block"]},
		{"path": "restrict_public_buckets", "value": true, "types": ["aws_s3_bucket_public_access_block", "aws_s3_account_public_access_block"]},
		{"path": "public_access_block_configuration[0].block_public_acls", "value": true, "types": ["aws_s3_access_point"]},
		{"path": "public_access_block_configuration[0].block_public_policy", "value": true, "types": ["aws_s3_access_point"]},
		{"path": "public_access_block_configuration[0].ignore_public_acls", "value": true, "types": ["aws_s3_access_point"]},
		{"path": "public_access_block_configuration[0].restrict_public_buckets", "value": true, "types": ["aws_s3_access_point"]},
	],
}

findings contains f if {
	some t in ["aws_s3_bucket_public_access_block", "aws_s3_account_public_access_block"]
	some r in input.resources[t]
	not {r.values.block_public_acls, r.values.block_public_policy, r.values.ignore_public_acls, r.values.restrict_public_buckets} == {true}
	some flag in ["block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"]
	not r.values[flag] == true
	not r.unknown[flag] == true
	value := object.get(r.values, flag, null)
	lib.not_enabled(value)
	f := {
		"address": r.address,
		"message": sprintf("%s is disabled%s", [flag, _scope(t)]),
		"evidence": {"setting": flag, "value": value, "bucket": object.get(r.values, "bucket", null)},
	}
}

# Access points block public access unless told otherwise: only an explicit false counts.
findings contains f if {
	some r in input.resources.aws_s3_access_point
	c := r.values.public_access_block_configuration[0]
	some flag in ["block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"]
	lib.falsy(object.get(c, flag, null))
	f := {
		"address": r.address,
		"message": sprintf("%s is disabled for the access point", [flag]),
		"evidence": {"setting": flag, "value": false, "bucket": object.get(r.values, "bucket", null)},
	}
}

_scope("aws_s3_account_public_access_block") := " for the whole account"

_scope("aws_s3_bucket_public_access_block") := ""
