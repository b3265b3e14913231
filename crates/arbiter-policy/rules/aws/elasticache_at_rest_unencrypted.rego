package arbiter.rules.aws.elasticache_at_rest_unencrypted

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-ECACHE-001",
	"title": "ElastiCache replication group not encrypted at rest",
	"severity": "medium",
	"effect": "warn",
	"category": "encryption",
	"provider": "aws",
	"resource_types": ["aws_elasticache_replication_group"],
	"rationale": "Cache nodes, swap and backups of a replication group without at-rest encryption hold session data and cached records in clear; it cannot be enabled later without replacement.",
	"remediation": "Set at_rest_encryption_enabled = true (optionally kms_key_id).",
	"checkov": ["CKV_AWS_29"],
	"fix": [{"path": "at_rest_encryption_enabled", "value": true}],
}

findings contains f if {
	some r in input.resources.aws_elasticache_replication_group
	not lib.truthy(object.get(r.values, "at_rest_encryption_enabled", null))
	not r.unknown.at_rest_encryption_enabled == true
	f := {
		"address": r.address,
		"message": "replication group is not encrypted at rest",
		"evidence": {"at_rest_encryption_enabled": object.get(r.values, "at_rest_encryption_enabled", null)},
	}
}

# at_rest_encryption_enabled left to the provider (computed at apply). Info only.
findings contains f if {
	some r in input.resources.aws_elasticache_replication_group
	r.unknown.at_rest_encryption_enabled == true
	f := {
		"address": r.address,
		"message": "at-rest encryption is not configured (decided at apply)",
		"evidence": {},
		"effect": "info",
		"severity": "low",
	}
}
