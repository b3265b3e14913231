package arbiter.rules.aws.nacl_admin_ports_world_open

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-NET-004",
	"title": "Network ACL allows administrative ports from the whole internet",
	"severity": "low",
	"effect": "warn",
	"category": "network",
	"provider": "aws",
	"resource_types": ["aws_network_acl", "aws_network_acl_rule", "aws_default_network_acl"],
	"rationale": "A network ACL that allows SSH (22) or RDP (3389) from 0.0.0.0/0 or ::/0 removes the subnet-level layer of defence; only security groups then stand between the internet and the hosts.",
	"remediation": "Add explicit deny entries (lower rule_no) for ports 22 and 3389 from 0.0.0.0/0 and ::/0, or narrow cidr_block / ipv6_cidr_block of the allow entry.",
	"checkov": ["CKV_AWS_232", "CKV_AWS_231"],
}

# Ingress allow entries of a network ACL, as {protocol, from, to, cidrs, rule_no}.
_entries(r) := [e |
	some b in lib.blocks(r, "ingress")
	lib.lstr(lib.get(b, "action", "")) == "allow"
	e := {
		"protocol": lib.get(b, "protocol", null),
		"from": lib.get(b, "from_port", null),
		"to": lib.get(b, "to_port", null),
		"cidrs": array.concat(lib.str_array(lib.get(b, "cidr_block", null)), lib.str_array(lib.get(b, "ipv6_cidr_block", null))),
		"rule_no": lib.get(b, "rule_no", null),
	}
] if r.type in {"aws_network_acl", "aws_default_network_acl"}

_entries(r) := [e |
	not lib.truthy(lib.attr(r, "egress"))
	lib.lstr(lib.attr(r, "rule_action")) == "allow"
	e := {
		"protocol": lib.attr(r, "protocol"),
		"from": lib.attr(r, "from_port"),
		"to": lib.attr(r, "to_port"),
		"cidrs": array.concat(lib.str_array(lib.attr(r, "cidr_block")), lib.str_array(lib.attr(r, "ipv6_cidr_block"))),
		"rule_no": lib.attr(r, "rule_number"),
	}
] if r.type == "aws_network_acl_rule"

findings contains f if {
	some t in metadata.resource_types
	some r in input.resources[t]
	some e in _entries(r)
	some port in [22, 3389]
	lib.rule_covers_port(e.protocol, e.from, e.to, port)
	service := lib.admin_service(port)
	some cidr in e.cidrs
	lib.is_world_cidr(cidr)
	not _denied_before(r, e, port, cidr)
	f := {
		"address": r.address,
		"message": sprintf("network ACL allows %s port %d from %s", [service, port, cidr]),
		"evidence": {"port": port, "cidr": cidr, "rule_no": e.rule_no},
	}
}

# An inline deny entry with a lower rule number for the same port and source wins.
_denied_before(r, e, port, cidr) if {
	some b in lib.blocks(r, "ingress")
	lib.lstr(lib.get(b, "action", "")) == "deny"
	lib.num(lib.get(b, "rule_no", null)) < lib.num(e.rule_no)
	lib.rule_covers_port(lib.get(b, "protocol", null), lib.get(b, "from_port", null), lib.get(b, "to_port", null), port)
	cidr in array.concat(lib.str_array(lib.get(b, "cidr_block", null)), lib.str_array(lib.get(b, "ipv6_cidr_block", null)))
}
