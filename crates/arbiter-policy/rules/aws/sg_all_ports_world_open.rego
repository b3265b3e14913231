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

findings contains f if {
	some [address, rule, cidr] in lib.world_ingress(input.resources)
	lib.rule_all_ports(rule)
	proto := lib.protocol_label(rule.protocol)
	f := {
		"address": address,
		"message": sprintf("all %s ports are open to %s", [_proto_word(proto), cidr]),
		"evidence": {"cidr": cidr, "protocol": proto, "from_port": rule.from, "to_port": rule.to},
	}
}

_proto_word("all") := "protocols and"

_proto_word(p) := p if p != "all"
