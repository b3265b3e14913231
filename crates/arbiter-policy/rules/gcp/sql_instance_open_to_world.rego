package arbiter.rules.gcp.sql_instance_open_to_world

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-GCP-SQL-001",
	"title": "Cloud SQL instance authorizes the whole internet",
	"severity": "critical",
	"effect": "deny",
	"category": "database",
	"provider": "gcp",
	"resource_types": ["google_sql_database_instance"],
	"rationale": "A public IP with an authorized network of 0.0.0.0/0 lets anyone on the internet reach the database port and attempt logins or engine exploits.",
	"remediation": "Remove the 0.0.0.0/0 authorized network; use private IP (ipv4_enabled = false with private_network) or the Cloud SQL Auth Proxy.",
	"checkov": ["CKV_GCP_11"],
	"fix": [
		{"path": "settings[*].ip_configuration[*].authorized_networks", "remove": {"value": "0.0.0.0/0"}},
		{"path": "settings[*].ip_configuration[*].authorized_networks", "remove": {"value": "::/0"}},
		{"path": "settings[*].ip_configuration[*].authorized_networks", "remove": {"value": "0.0.0.0"}},
	],
}

findings contains f if {
	some r in input.resources.google_sql_database_instance
	ipc := r.values.settings[_].ip_configuration[_]
	net := ipc.authorized_networks[_]
	value := net.value
	is_string(value)
	_whole_internet(value)
	not ipc.ipv4_enabled == false
	f := {
		"address": r.address,
		"message": sprintf("authorized network %s allows the whole internet", [value]),
		"evidence": {"name": object.get(net, "name", null), "value": value},
	}
}

_whole_internet(v) if endswith(v, "/0")

_whole_internet("0.0.0.0") := true
