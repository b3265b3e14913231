package arbiter.rules.aws.nacl_admin_ports_world_open

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-NET-004",
	"title": "Network ACL allows administrative, FTP or all ports from the whole internet",
	"severity": "low",
	"effect": "warn",
	"category": "network",
	"provider": "aws",
	"resource_types": ["aws_network_acl", "aws_network_acl_rule", "aws_default_network_acl"],
	"rationale": "A network ACL that allows SSH (22), RDP (3389), FTP (20/21) or every port from 0.0.0.0/0 or ::/0 removes the subnet-level layer of defence; only security groups then stand between the internet and the hosts. Low: the default network ACL allows everything, and security groups are the primary control.",
	"remediation": "Add explicit deny entries (lower rule_no) for ports 22, 3389, 20 and 21 from 0.0.0.0/0 and ::/0, allow only the ports the subnet serves, or narrow cidr_block / ipv6_cidr_block of the allow entry.",
	"checkov": ["CKV_AWS_232", "CKV_AWS_231", "CKV_AWS_229", "CKV_AWS_230", "CKV_AWS_352"],
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
	not lib.rule_all_ports(e)
	some port in [22, 3389, 20, 21]
	lib.rule_covers_port(e.protocol, e.from, e.to, port)
	service := {22: "SSH", 3389: "RDP", 20: "FTP data", 21: "FTP"}[port]
	some cidr in e.cidrs
	lib.is_world_cidr(cidr)
	not _denied_before(r, e, port, cidr)
	f := {
		"address": r.address,
		"message": sprintf("network ACL allows %s port %d from %s", [service, port, cidr]),
		"evidence": {"port": port, "cidr": cidr, "rule_no": e.rule_no},
	}
}

# Every port (protocol -1/all or a full range): reported once.
findings contains f if {
	some t in metadata.resource_types
	some r in input.resources[t]
	some e in _entries(r)
	lib.rule_all_ports(e)
	some cidr in e.cidrs
	lib.is_world_cidr(cidr)
	# "deny SSH, RDP and FTP, allow the rest" is a deliberate pattern
	open_ports := [p | some p in [22, 3389, 20, 21]; not _denied_before(r, e, p, cidr)]
	count(open_ports) > 0
	f := {
		"address": r.address,
		"message": sprintf("network ACL allows all ports from %s", [cidr]),
		"evidence": {"cidr": cidr, "rule_no": e.rule_no, "protocol": lib.protocol_label(e.protocol), "not_denied": open_ports},
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
