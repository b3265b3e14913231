package arbiter.rules.aws.sqs_encryption_disabled

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-SQS-001",
	"title": "SQS queue encryption disabled",
	"severity": "low",
	"effect": "warn",
	"category": "encryption",
	"provider": "aws",
	"resource_types": ["aws_sqs_queue"],
	"rationale": "New queues get SQS-managed server-side encryption by default; turning it off (sqs_managed_sse_enabled = false) without a KMS key stores messages in clear.",
	"remediation": "Remove sqs_managed_sse_enabled = false, or set kms_master_key_id to a KMS key.",
	"checkov": ["CKV_AWS_27"],
	"fix": [{"path": "sqs_managed_sse_enabled", "value": true}],
}

findings contains f if {
	some r in input.resources.aws_sqs_queue
	r.values.sqs_managed_sse_enabled == false
	object.get(r.values, "kms_master_key_id", null) in {null, ""}
	not r.unknown.kms_master_key_id == true
	f := {
		"address": r.address,
		"message": "queue messages are not encrypted (sqs_managed_sse_enabled = false and no kms_master_key_id)",
		"evidence": {"sqs_managed_sse_enabled": false},
		"severity": lib.on_update(r, "low", "medium"),
	}
}
