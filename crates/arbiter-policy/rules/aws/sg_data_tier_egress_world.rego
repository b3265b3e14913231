package arbiter.rules.aws.sg_data_tier_egress_world

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-NET-005",
	"title": "Data-tier security group allows egress to the whole internet",
	"severity": "medium",
	"effect": "warn",
	"category": "network",
	"provider": "aws",
	"resource_types": ["aws_security_group"],
	"rationale": "Databases and caches rarely need to reach the internet; unrestricted egress from a data tier is the path by which a compromised database exfiltrates data or fetches tooling.",
	"remediation": "Remove the 0.0.0.0/0 / ::/0 egress entry from the data-tier security group, or limit it to the VPC CIDR, VPC endpoints (prefix_list_ids) or the specific destinations required.",
	"checkov": ["CKV_AWS_382"],
}

# Cheap scan: [resource, egress rule, world cidr] for groups with all-port egress to the world.
_world_egress contains [r, rule, "0.0.0.0/0"] if {
	some r in input.resources.aws_security_group
	b := r.values.egress[_]
	"0.0.0.0/0" in b.cidr_blocks
	rule := {"protocol": b.protocol, "from": b.from_port, "to": b.to_port}
	lib.rule_all_ports(rule)
}

_world_egress contains [r, rule, "::/0"] if {
	some r in input.resources.aws_security_group
	b := r.values.egress[_]
	"::/0" in b.ipv6_cidr_blocks
	rule := {"protocol": b.protocol, "from": b.from_port, "to": b.to_port}
	lib.rule_all_ports(rule)
}

_data_words := {
	"db", "database", "databases", "data", "rds", "aurora", "mysql", "mariadb", "postgres", "postgresql", "pg",
	"mssql", "sqlserver", "oracle", "cache", "redis", "memcached", "elasticache", "mongo", "mongodb",
	"documentdb", "docdb", "elasticsearch", "opensearch", "redshift", "warehouse", "dynamodb", "neptune", "cassandra",
}

_label_words(r) := lib.words(concat(" ", array.concat(
	[lib.str(lib.attr(r, "name")), lib.str(lib.attr(r, "name_prefix")), lib.str(lib.attr(r, "description"))],
	[lib.str(lib.get(lib.tags(r), k, "")) | some k in ["Name", "name", "Tier", "tier", "Role", "role"]],
)))

findings contains f if {
	some [r, rule, cidr] in _world_egress
	hits := _label_words(r) & _data_words
	count(hits) > 0
	f := {
		"address": r.address,
		"message": sprintf("data-tier security group allows all egress to %s", [cidr]),
		"evidence": {"cidr": cidr, "protocol": lib.protocol_label(rule.protocol), "matched_words": sort([w | some w in hits])},
	}
}
