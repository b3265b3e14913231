package arbiter.rules.azure.key_vault_purge_protection_disabled

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AZ-KV-001",
	"title": "Key Vault purge protection disabled",
	"severity": "low",
	"effect": "warn",
	"category": "secrets",
	"provider": "azure",
	"resource_types": ["azurerm_key_vault"],
	"rationale": "Without purge protection a deleted vault (and every key, secret and certificate in it) can be purged immediately, by mistake or by an attacker, making encrypted data unrecoverable. Warn on production stacks, info elsewhere (throw-away vaults need to be purgeable). Medium on production stacks even for a new vault: unlike deletion protection of a database (low on creation, ARB-AWS-RDS-004: snapshots and backups still recover the data), a purged vault takes its keys with it, so nothing encrypted with them can be recovered, and the provider's default is off.",
	"remediation": "Set purge_protection_enabled = true (cannot be turned off again) with soft_delete_retention_days >= 7.",
	"checkov": ["CKV_AZURE_110", "CKV_AZURE_42"],
	"fix": [{"path": "purge_protection_enabled", "value": true}],
}

findings contains f if {
	some r in input.resources.azurerm_key_vault
	not r.values.purge_protection_enabled == true
	not r.unknown.purge_protection_enabled == true
	f := {
		"address": r.address,
		"message": "purge protection is disabled",
		"evidence": {"purge_protection_enabled": object.get(r.values, "purge_protection_enabled", null)},
		"effect": lib.by_env(input.stack, "warn", "info"),
		"severity": lib.by_env(input.stack, "medium", "low"),
	}
}
