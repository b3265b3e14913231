package arbiter.rules.gcp.sql_instance_ssl_not_required

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-GCP-SQL-901",
	"title": "Cloud SQL instance accepts unencrypted connections",
	"severity": "medium",
	"effect": "warn",
	"category": "encryption",
	"provider": "gcp",
	"resource_types": ["google_sql_database_instance"],
	"rationale": "ssl_mode = ALLOW_UNENCRYPTED_AND_ENCRYPTED (or require_ssl = false) lets clients send credentials and queries in clear text to the instance, over its public or private IP.",
	"remediation": "Set settings.ip_configuration.ssl_mode = \"ENCRYPTED_ONLY\" (or \"TRUSTED_CLIENT_CERTIFICATE_REQUIRED\"); use the Cloud SQL Auth Proxy for clients that cannot do TLS.",
	"checkov": ["CKV_GCP_6"],
	"fix": [
		{"path": "settings[0].ip_configuration[0].require_ssl", "value": true},
		{"path": "settings[0].ip_configuration[0].ssl_mode", "value": "ENCRYPTED_ONLY"},
	],
}

# Only explicit settings are judged (ssl_mode is computed when not configured).
findings contains f if {
	some r in input.resources.google_sql_database_instance
	ip := r.values.settings[0].ip_configuration[0]
	ip.ssl_mode == "ALLOW_UNENCRYPTED_AND_ENCRYPTED"
	f := {
		"address": r.address,
		"message": "ssl_mode is ALLOW_UNENCRYPTED_AND_ENCRYPTED: clients may connect without TLS",
		"evidence": {"ssl_mode": ip.ssl_mode, "ipv4_enabled": lib.get(ip, "ipv4_enabled", null)},
	}
}

findings contains f if {
	some r in input.resources.google_sql_database_instance
	ip := r.values.settings[0].ip_configuration[0]
	ip.require_ssl == false
	not lib.get(ip, "ssl_mode", null) in {"ENCRYPTED_ONLY", "TRUSTED_CLIENT_CERTIFICATE_REQUIRED", "ALLOW_UNENCRYPTED_AND_ENCRYPTED"}
	f := {
		"address": r.address,
		"message": "require_ssl is false: clients may connect without TLS",
		"evidence": {"require_ssl": false, "ipv4_enabled": lib.get(ip, "ipv4_enabled", null)},
	}
}
