package arbiter.rules.gcp.gke_control_plane_exposed

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-GCP-GKE-001",
	"title": "GKE cluster with legacy ABAC or an unrestricted control plane",
	"severity": "high",
	"effect": "escalate",
	"category": "kubernetes",
	"provider": "gcp",
	"resource_types": ["google_container_cluster"],
	"rationale": "Legacy ABAC grants broad, hard-to-audit permissions to every service account in the cluster; a control plane endpoint without master authorized networks (or authorizing 0.0.0.0/0) is open to the internet.",
	"remediation": "Set enable_legacy_abac = false and configure master_authorized_networks_config with specific cidr_blocks (or a private endpoint via private_cluster_config.enable_private_endpoint = true).",
	"checkov": ["CKV_GCP_7", "CKV_GCP_20"],
	"fix": [
		{"path": "enable_legacy_abac", "value": false},
		{"path": "master_authorized_networks_config[*].cidr_blocks", "remove": {"cidr_block": "0.0.0.0/0"}},
		{"path": "master_authorized_networks_config[*].cidr_blocks", "remove": {"cidr_block": "::/0"}},
		{"path": "master_authorized_networks_config[0].gcp_public_cidrs_access_enabled", "value": false},
	],
}

findings contains f if {
	some r in input.resources.google_container_cluster
	r.values.enable_legacy_abac == true
	f := {
		"address": r.address,
		"message": "legacy ABAC authorization is enabled",
		"evidence": {"enable_legacy_abac": true},
	}
}

findings contains f if {
	some r in input.resources.google_container_cluster
	cidr := r.values.master_authorized_networks_config[_].cidr_blocks[_].cidr_block
	cidr in {"0.0.0.0/0", "::/0"}
	f := {
		"address": r.address,
		"message": sprintf("master authorized networks include %s", [cidr]),
		"evidence": {"cidr_block": cidr},
	}
}

findings contains f if {
	some r in input.resources.google_container_cluster
	not r.values.master_authorized_networks_config[0]
	not r.unknown.master_authorized_networks_config == true
	not r.values.private_cluster_config[0].enable_private_endpoint == true
	f := {
		"address": r.address,
		"message": "control plane endpoint accepts connections from any address (no master_authorized_networks_config)",
		"evidence": {},
		"effect": "warn",
	}
}
