package arbiter.rules.aws.ebs_volume_unencrypted

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-EBS-001",
	"title": "EBS volume not encrypted",
	"severity": "medium",
	"effect": "warn",
	"category": "encryption",
	"provider": "aws",
	"resource_types": ["aws_ebs_volume"],
	"rationale": "Unencrypted EBS volumes and their snapshots expose data to anyone who can copy or share a snapshot, and fail most compliance regimes.",
	"remediation": "Set encrypted = true (optionally kms_key_id), or enable aws_ebs_encryption_by_default for the region.",
	"checkov": ["CKV_AWS_3"],
	"fix": [{"path": "encrypted", "value": true}],
}

findings contains f if {
	some r in input.resources.aws_ebs_volume
	not r.values.encrypted == true
	not r.unknown.encrypted == true
	lib.not_enabled(lib.attr(r, "encrypted"))
	f := {
		"address": r.address,
		"message": "EBS volume is not encrypted",
		"evidence": {"encrypted": lib.attr(r, "encrypted")},
	}
}

# encrypted left to AWS (computed at apply): unencrypted unless EBS encryption by default is
# enabled or the source snapshot is encrypted. Info only.
findings contains f if {
	some r in input.resources.aws_ebs_volume
	r.unknown.encrypted == true
	f := {
		"address": r.address,
		"message": "EBS volume encryption is not configured (decided at apply by the account default or the snapshot)",
		"evidence": {},
		"effect": "info",
		"severity": "low",
	}
}
