package arbiter.rules.azure.nsg_admin_ports_internet_open

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AZ-NET-001",
	"title": "Network security group opens SSH or RDP to the internet",
	"severity": "critical",
	"effect": "deny",
	"category": "network",
	"provider": "azure",
	"resource_types": ["azurerm_network_security_rule", "azurerm_network_security_group"],
	"rationale": "An inbound Allow rule from *, Internet, Any or 0.0.0.0/0 to port 22 or 3389 exposes virtual machines' SSH/RDP to internet-wide brute force.",
	"remediation": "Restrict source_address_prefix(es) to known ranges or use Azure Bastion / just-in-time VM access; never allow 22/3389 from Internet.",
	"checkov": ["CKV_AZURE_10", "CKV_AZURE_9"],
}

# Candidate inbound allow rules, as [address, rule object].
_rules contains [r.address, r.values] if {
	some r in input.resources.azurerm_network_security_rule
	r.values.access in {"Allow", "allow"}
}

_rules contains [r.address, sr] if {
	some r in input.resources.azurerm_network_security_group
	sr := r.values.security_rule[_]
	sr.access in {"Allow", "allow"}
}

findings contains f if {
	some [address, rule] in _rules
	lib.lstr(object.get(rule, "direction", "")) == "inbound"
	lib.lstr(object.get(rule, "protocol", "")) in {"tcp", "*"}
	some source in _sources(rule)
	lib.is_internet_source(source)
	some port in [22, 3389]
	some spec in _port_specs(rule)
	lib.port_spec_includes(spec, port)
	f := {
		"address": address,
		"message": sprintf("security rule %s allows %s port %d from %s", [lib.str(object.get(rule, "name", "")), lib.admin_service(port), port, source]),
		"evidence": {"rule": object.get(rule, "name", null), "port": port, "source": source, "priority": object.get(rule, "priority", null)},
	}
}

_sources(rule) := array.concat(lib.str_array(object.get(rule, "source_address_prefix", null)), lib.str_array(object.get(rule, "source_address_prefixes", null)))

_port_specs(rule) := array.concat(lib.as_array(object.get(rule, "destination_port_range", null)), lib.as_array(object.get(rule, "destination_port_ranges", null)))
