package arbiter.rules.aws.sg_all_ports_world_open

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-NET-003",
	"title": "All ports open to the whole internet",
	"severity": "critical",
	"effect": "deny",
	"category": "network",
	"provider": "aws",
	"resource_types": ["aws_security_group", "aws_security_group_rule", "aws_vpc_security_group_ingress_rule"],
	"rationale": "An ingress rule with protocol -1 (all traffic) or the full 0-65535 port range from 0.0.0.0/0 or ::/0 exposes every service on every attached instance, including admin and database ports.",
	"remediation": "Replace the rule with rules for the specific ports the service needs (e.g. 443), and restrict the source CIDRs; set protocol to tcp/udp with explicit from_port/to_port.",
	"checkov": ["CKV_AWS_277", "CKV_AWS_24", "CKV_AWS_25"],
}

_types := ["aws_security_group", "aws_security_group_rule", "aws_vpc_security_group_ingress_rule"]

findings contains f if {
	some t in _types
	some r in input.resources[t]
	some rule in lib.sg_ingress_rules(r)
	lib.rule_all_ports(rule)
	some cidr in rule.cidrs
	lib.is_world_cidr(cidr)
	proto := lib.protocol_label(rule.protocol)
	f := {
		"address": r.address,
		"message": sprintf("all %s ports are open to %s", [_proto_word(proto), cidr]),
		"evidence": {"cidr": cidr, "protocol": proto, "from_port": rule.from, "to_port": rule.to},
	}
}

_proto_word("all") := "protocols and"

_proto_word(p) := p if p != "all"
