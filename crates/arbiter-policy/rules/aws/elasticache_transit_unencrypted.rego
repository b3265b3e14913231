package arbiter.rules.aws.elasticache_transit_unencrypted

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-ECACHE-002",
	"title": "ElastiCache replication group without in-transit encryption",
	"severity": "medium",
	"effect": "warn",
	"category": "encryption",
	"provider": "aws",
	"resource_types": ["aws_elasticache_replication_group"],
	"rationale": "Without TLS, cache traffic (often session tokens and personal data) and any AUTH token cross the network in clear.",
	"remediation": "Set transit_encryption_enabled = true (and an auth_token or RBAC user group).",
	"checkov": ["CKV_AWS_30", "CKV_AWS_31"],
	"fix": [{"path": "transit_encryption_enabled", "value": true}],
}

findings contains f if {
	some r in input.resources.aws_elasticache_replication_group
	not r.values.transit_encryption_enabled == true
	not r.unknown.transit_encryption_enabled == true
	f := {
		"address": r.address,
		"message": "replication group does not encrypt traffic in transit",
		"evidence": {"transit_encryption_enabled": object.get(r.values, "transit_encryption_enabled", null)},
	}
}
