package arbiter.rules.azure.storage_account_min_tls

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AZ-STORAGE-002",
	"title": "Storage account accepts TLS 1.0/1.1",
	"severity": "medium",
	"effect": "warn",
	"category": "encryption",
	"provider": "azure",
	"resource_types": ["azurerm_storage_account"],
	"rationale": "TLS 1.0 and 1.1 are deprecated and vulnerable; Azure is retiring them for storage.",
	"remediation": "Set min_tls_version = \"TLS1_2\".",
	"checkov": ["CKV_AZURE_44"],
	"fix": [{"path": "min_tls_version", "value": "TLS1_2"}],
}

findings contains f if {
	some r in input.resources.azurerm_storage_account
	v := r.values.min_tls_version
	v in {"TLS1_0", "TLS1_1"}
	f := {
		"address": r.address,
		"message": sprintf("min_tls_version is %s (below TLS1_2)", [v]),
		"evidence": {"min_tls_version": v},
	}
}
