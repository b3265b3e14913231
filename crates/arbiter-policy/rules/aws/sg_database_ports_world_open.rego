package arbiter.rules.aws.sg_database_ports_world_open

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-NET-002",
	"title": "Database or cache port open to the whole internet",
	"severity": "critical",
	"effect": "deny",
	"category": "network",
	"provider": "aws",
	"resource_types": ["aws_security_group", "aws_security_group_rule", "aws_vpc_security_group_ingress_rule"],
	"rationale": "Data stores (MySQL, PostgreSQL, SQL Server, Oracle, MongoDB, Redis, Elasticsearch/Kibana, Memcached, ...) listening to 0.0.0.0/0 or ::/0 are a leading cause of mass data leaks and ransom wipes; they are not meant to face the internet.",
	"remediation": "Allow the database port only from the application tier's security group (source_security_group_id / referenced_security_group_id) or from private CIDRs; never from 0.0.0.0/0 or ::/0.",
	"checkov": [],
}

findings contains f if {
	some [address, rule, cidr] in lib.world_ingress(input.resources)
	not lib.rule_all_ports(rule) # reported by ARB-AWS-NET-003
	services := lib.database_ports()
	ports := _covered(rule, services)
	count(ports) > 0
	names := [sprintf("%d (%s)", [p, services[p]]) | some p in ports]
	f := {
		"address": address,
		"message": sprintf("database port(s) %s open to %s", [concat(", ", names), cidr]),
		"evidence": {"ports": ports, "cidr": cidr, "protocol": lib.protocol_label(rule.protocol), "from_port": rule.from, "to_port": rule.to},
	}
}

_covered(rule, services) := sort([p | some p, _ in services; from <= p; p <= to]) if {
	lib.is_port_protocol(rule.protocol)
	from := lib.num(rule.from)
	to := lib.num(rule.to)
}
