package arbiter.rules.aws.sg_admin_ports_world_open

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-NET-001",
	"title": "Administrative port open to the whole internet",
	"severity": "critical",
	"effect": "deny",
	"category": "network",
	"provider": "aws",
	"resource_types": ["aws_security_group", "aws_security_group_rule", "aws_vpc_security_group_ingress_rule"],
	"rationale": "SSH (22) and RDP (3389) reachable from 0.0.0.0/0 or ::/0 are scanned and brute-forced within minutes of exposure; a single weak credential or unpatched daemon gives an attacker a shell inside the VPC.",
	"remediation": "Restrict cidr_blocks / ipv6_cidr_blocks (or cidr_ipv4 / cidr_ipv6) to known administrative ranges, or remove the rule and reach instances through SSM Session Manager or a bastion.",
	"checkov": ["CKV_AWS_24", "CKV_AWS_25"],
}

findings contains f if {
	some [address, rule, cidr] in lib.world_ingress(input.resources)
	not lib.rule_all_ports(rule) # reported by ARB-AWS-NET-003
	lib.is_port_protocol(rule.protocol)
	from := lib.num(rule.from)
	to := lib.num(rule.to)
	some port in [22, 3389]
	from <= port
	port <= to
	service := lib.admin_service(port)
	f := {
		"address": address,
		"message": sprintf("%s port %d is open to %s", [service, port, cidr]),
		"evidence": {"port": port, "cidr": cidr, "protocol": lib.protocol_label(rule.protocol), "from_port": rule.from, "to_port": rule.to},
	}
}
