package arbiter.rules.azure.storage_account_public_blob_access

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AZ-STORAGE-001",
	"title": "Storage account allows public blob containers",
	"severity": "high",
	"effect": "warn",
	"category": "storage",
	"provider": "azure",
	"resource_types": ["azurerm_storage_account"],
	"rationale": "allow_nested_items_to_be_public = true (the azurerm 3.x default) lets any container in the account be switched to anonymous public read; one container setting then publishes its blobs.",
	"remediation": "Set allow_nested_items_to_be_public = false (allow_blob_public_access = false on azurerm 2.x) and serve public content through a CDN.",
	"checkov": ["CKV_AZURE_190", "CKV_AZURE_59"],
	"fix": [
		{"path": "allow_nested_items_to_be_public", "value": false},
		{"path": "allow_blob_public_access", "value": false},
	],
}

findings contains f if {
	some r in input.resources.azurerm_storage_account
	some a in ["allow_nested_items_to_be_public", "allow_blob_public_access"]
	r.values[a] == true
	f := {
		"address": r.address,
		"message": sprintf("anonymous public access to blob containers is allowed (%s = true)", [a]),
		"evidence": {a: true},
	}
}
