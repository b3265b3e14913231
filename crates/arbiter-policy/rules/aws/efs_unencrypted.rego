package arbiter.rules.aws.efs_unencrypted

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-EFS-001",
	"title": "EFS file system not encrypted",
	"severity": "medium",
	"effect": "warn",
	"category": "encryption",
	"provider": "aws",
	"resource_types": ["aws_efs_file_system"],
	"rationale": "EFS encryption at rest can only be chosen at creation; an unencrypted file system keeps shared application data in clear on AWS storage for its whole life.",
	"remediation": "Set encrypted = true (optionally kms_key_id) when creating the file system; migrate data to a new encrypted file system otherwise.",
	"checkov": ["CKV_AWS_42"],
	"fix": [{"path": "encrypted", "value": true}],
}

findings contains f if {
	some r in input.resources.aws_efs_file_system
	not r.values.encrypted == true
	not r.unknown.encrypted == true
	f := {
		"address": r.address,
		"message": "file system is not encrypted at rest",
		"evidence": {"encrypted": object.get(r.values, "encrypted", null)},
	}
}

# encrypted left to the provider (computed at apply). Info only.
findings contains f if {
	some r in input.resources.aws_efs_file_system
	r.unknown.encrypted == true
	f := {
		"address": r.address,
		"message": "file system encryption is not configured (decided at apply)",
		"evidence": {},
		"effect": "info",
		"severity": "low",
	}
}
