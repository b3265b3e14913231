package arbiter.rules.aws.kms_key_deletion_or_disabled

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-KMS-002",
	"title": "KMS key disabled or with a short deletion window",
	"severity": "low",
	"effect": "warn",
	"category": "encryption",
	"provider": "aws",
	"resource_types": ["aws_kms_key"],
	"rationale": "Disabling a key makes everything encrypted with it unreadable at once; a deletion window shorter than 14 days leaves little time to notice and cancel a mistaken key deletion, which destroys the data for good.",
	"remediation": "Keep is_enabled = true and deletion_window_in_days at 30 (the default), or at least 14.",
	"checkov": ["CKV_AWS_227"],
	"fix": [
		{"path": "is_enabled", "value": true},
		{"path": "deletion_window_in_days", "value": 30},
	],
}

findings contains f if {
	some r in input.resources.aws_kms_key
	r.values.is_enabled == false
	f := {
		"address": r.address,
		"message": "key is disabled (is_enabled = false)",
		"evidence": {"is_enabled": false},
	}
}

findings contains f if {
	some r in input.resources.aws_kms_key
	days := r.values.deletion_window_in_days
	is_number(days)
	days < 14
	f := {
		"address": r.address,
		"message": sprintf("deletion window is only %d days (less than 14)", [days]),
		"evidence": {"deletion_window_in_days": days},
	}
}
