package arbiter.rules.azure.sql_firewall_all_ips

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AZ-SQL-001",
	"title": "Database server firewall allows every IPv4 address",
	"severity": "critical",
	"effect": "deny",
	"category": "database",
	"provider": "azure",
	"resource_types": [
		"azurerm_sql_firewall_rule", "azurerm_mssql_firewall_rule", "azurerm_postgresql_firewall_rule",
		"azurerm_mysql_firewall_rule", "azurerm_mariadb_firewall_rule",
		"azurerm_postgresql_flexible_server_firewall_rule", "azurerm_mysql_flexible_server_firewall_rule",
	],
	"rationale": "A firewall rule from 0.0.0.0 to 255.255.255.255 opens the database server's endpoint to the entire internet.",
	"remediation": "Allow only the specific client ranges, or use private endpoints / VNet rules; 0.0.0.0-0.0.0.0 (Azure services) is the narrowest built-in alternative.",
	"checkov": ["CKV_AZURE_11"],
}

findings contains f if {
	some t in metadata.resource_types
	some r in input.resources[t]
	start := r.values.start_ip_address
	start in {"0.0.0.0", "0.0.0.0/0"}
	end := r.values.end_ip_address
	end == "255.255.255.255"
	f := {
		"address": r.address,
		"message": sprintf("firewall rule allows every IPv4 address (%s-%s)", [start, end]),
		"evidence": {"start_ip_address": start, "end_ip_address": end},
	}
}
