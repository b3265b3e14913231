package arbiter.rules.azure.storage_account_https_only_disabled

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AZ-STORAGE-901",
	"title": "Storage account accepts plain HTTP",
	"severity": "medium",
	"effect": "warn",
	"category": "encryption",
	"provider": "azure",
	"resource_types": ["azurerm_storage_account"],
	"rationale": "With secure transfer off, blob, file and queue requests (and the shared keys or SAS tokens that authorize them) may travel unencrypted.",
	"remediation": "Set https_traffic_only_enabled = true (enable_https_traffic_only = true on azurerm 3.x); it is the default.",
	"checkov": ["CKV_AZURE_3"],
	"fix": [
		{"path": "https_traffic_only_enabled", "value": true},
		{"path": "enable_https_traffic_only", "value": true},
	],
}

findings contains f if {
	some r in input.resources.azurerm_storage_account
	some a in ["https_traffic_only_enabled", "enable_https_traffic_only"]
	r.values[a] == false
	f := {
		"address": r.address,
		"message": sprintf("secure transfer is off (%s = false): plain HTTP requests are accepted", [a]),
		"evidence": {a: false},
	}
}
