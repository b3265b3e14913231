package arbiter.rules.aws.kms_rotation_disabled

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-KMS-001",
	"title": "KMS key rotation disabled",
	"severity": "low",
	"effect": "warn",
	"category": "encryption",
	"provider": "aws",
	"resource_types": ["aws_kms_key"],
	"rationale": "Automatic rotation limits how much data any single key version protects and is required by most compliance regimes for symmetric customer-managed keys. Low on a new key (hygiene); medium when a change switches rotation off on an existing key, a deliberate weakening of a control that was in place.",
	"remediation": "Set enable_key_rotation = true (optionally rotation_period_in_days).",
	"checkov": ["CKV_AWS_7"],
	"fix": [{"path": "enable_key_rotation", "value": true}],
}

findings contains f if {
	some r in input.resources.aws_kms_key
	not r.values.enable_key_rotation == true
	not r.unknown.enable_key_rotation == true
	# rotation only exists for symmetric encryption keys
	object.get(r.values, "customer_master_key_spec", null) in {null, "SYMMETRIC_DEFAULT"}
	object.get(r.values, "key_usage", null) in {null, "ENCRYPT_DECRYPT"}
	f := {
		"address": r.address,
		"message": "automatic key rotation is disabled (enable_key_rotation is not true)",
		"evidence": {"enable_key_rotation": object.get(r.values, "enable_key_rotation", null)},
		"severity": lib.on_update(r, "low", "medium"),
	}
}
