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

_types := ["aws_security_group", "aws_security_group_rule", "aws_vpc_security_group_ingress_rule"]

findings contains f if {
	some t in _types
	some r in input.resources[t]
	some rule in lib.sg_ingress_rules(r)
	not lib.rule_all_ports(rule) # reported by ARB-AWS-NET-003
	some cidr in rule.cidrs
	lib.is_world_cidr(cidr)
	ports := sort([p | some p, _ in lib.database_ports; lib.rule_covers_port(rule.protocol, rule.from, rule.to, p)])
	count(ports) > 0
	names := [sprintf("%d (%s)", [p, lib.database_ports[p]]) | some p in ports]
	f := {
		"address": r.address,
		"message": sprintf("database port(s) %s open to %s", [concat(", ", names), cidr]),
		"evidence": {"ports": ports, "cidr": cidr, "protocol": lib.protocol_label(rule.protocol), "from_port": rule.from, "to_port": rule.to},
	}
}
