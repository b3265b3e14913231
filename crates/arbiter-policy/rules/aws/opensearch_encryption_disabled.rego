package arbiter.rules.aws.opensearch_encryption_disabled

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-ES-001",
	"title": "OpenSearch/Elasticsearch domain without encryption",
	"severity": "medium",
	"effect": "warn",
	"category": "encryption",
	"provider": "aws",
	"resource_types": ["aws_elasticsearch_domain", "aws_opensearch_domain"],
	"rationale": "Search domains index application data and logs; without encryption at rest and node-to-node encryption, indices, snapshots and intra-cluster traffic are in clear.",
	"remediation": "Add encrypt_at_rest { enabled = true } and node_to_node_encryption { enabled = true } (both require recreation on older domains).",
	"checkov": ["CKV_AWS_5", "CKV_AWS_6"],
	"fix": [
		{"path": "encrypt_at_rest[0].enabled", "value": true},
		{"path": "node_to_node_encryption[0].enabled", "value": true},
	],
}

findings contains f if {
	some t in metadata.resource_types
	some r in input.resources[t]
	some [block, what] in [["encrypt_at_rest", "encryption at rest"], ["node_to_node_encryption", "node-to-node encryption"]]
	not r.values[block][0].enabled == true
	not r.unknown[block] == true
	not lib.is_unknown_path(r, [block, 0, "enabled"])
	f := {
		"address": r.address,
		"message": sprintf("domain has %s disabled", [what]),
		"evidence": {"block": block},
	}
}

# blocks left to the provider (computed at apply): encryption is off unless the engine
# version enforces it. Info only.
findings contains f if {
	some t in metadata.resource_types
	some r in input.resources[t]
	some [block, what] in [["encrypt_at_rest", "encryption at rest"], ["node_to_node_encryption", "node-to-node encryption"]]
	r.unknown[block] == true
	f := {
		"address": r.address,
		"message": sprintf("domain %s is not configured (decided at apply)", [what]),
		"evidence": {"block": block},
		"effect": "info",
		"severity": "low",
	}
}
