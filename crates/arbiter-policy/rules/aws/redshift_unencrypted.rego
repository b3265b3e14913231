package arbiter.rules.aws.redshift_unencrypted

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-REDSHIFT-001",
	"title": "Redshift cluster not encrypted",
	"severity": "medium",
	"effect": "warn",
	"category": "encryption",
	"provider": "aws",
	"resource_types": ["aws_redshift_cluster"],
	"rationale": "A data warehouse typically holds the organisation's most complete copy of its data; unencrypted storage and snapshots expose all of it.",
	"remediation": "Set encrypted = true (optionally kms_key_id).",
	"checkov": ["CKV_AWS_64"],
	"fix": [{"path": "encrypted", "value": true}],
}

findings contains f if {
	some r in input.resources.aws_redshift_cluster
	not lib.truthy(object.get(r.values, "encrypted", null))
	not r.unknown.encrypted == true
	f := {
		"address": r.address,
		"message": "cluster storage is not encrypted",
		"evidence": {"encrypted": object.get(r.values, "encrypted", null)},
	}
}
