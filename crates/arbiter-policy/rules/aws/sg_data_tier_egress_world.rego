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
	"resource_types": ["aws_security_group", "aws_security_group_rule", "aws_vpc_security_group_egress_rule"],
	"rationale": "Databases and caches rarely need to reach the internet; unrestricted egress from a data tier is the path by which a compromised database exfiltrates data or fetches tooling. The egress may be written inline, as an aws_security_group_rule (type egress) or as an aws_vpc_security_group_egress_rule; the group is found through the rule's security_group_id reference.",
	"remediation": "Remove the 0.0.0.0/0 / ::/0 egress entry (inline, aws_security_group_rule or aws_vpc_security_group_egress_rule) from the data-tier security group, or limit it to the VPC CIDR, VPC endpoints (prefix lists) or the specific destinations required.",
	"checkov": ["CKV_AWS_382"],
	"joins": true,
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

# Standalone egress rules: [resource, egress rule, world cidr] with all-port egress to the world.
_world_rule_egress contains [r, rule, world] if {
	some r in input.resources.aws_security_group_rule
	r.values.type == "egress"
	some [key, world] in [["cidr_blocks", "0.0.0.0/0"], ["ipv6_cidr_blocks", "::/0"]]
	world in r.values[key]
	rule := {"protocol": object.get(r.values, "protocol", null), "from": object.get(r.values, "from_port", null), "to": object.get(r.values, "to_port", null)}
	lib.rule_all_ports(rule)
}

_world_rule_egress contains [r, rule, world] if {
	some r in input.resources.aws_vpc_security_group_egress_rule
	some [key, world] in [["cidr_ipv4", "0.0.0.0/0"], ["cidr_ipv6", "::/0"]]
	r.values[key] == world
	rule := {"protocol": object.get(r.values, "ip_protocol", null), "from": object.get(r.values, "from_port", null), "to": object.get(r.values, "to_port", null)}
	lib.rule_all_ports(rule)
}

# The security groups of this change that a standalone rule belongs to: by the
# configuration reference of security_group_id (ids known only at apply), or by a
# known id. Indexed once per evaluation.
_groups_by_cfg[ca] contains g if {
	some g in object.get(input.resources, "aws_security_group", [])
	ca := g.config_address
}

_groups_by_id[id] contains g if {
	some g in object.get(input.resources, "aws_security_group", [])
	id := g.values.id
	is_string(id)
}

_rule_groups(r) := {g | some ca in object.get(object.get(r, "refs", {}), "security_group_id", []); some g in _groups_by_cfg[ca]} | {g |
	id := r.values.security_group_id
	is_string(id)
	some g in _groups_by_id[id]
}

# Words that label a standalone rule itself: its Terraform name, description and tags.
_own_words(r) := lib.words(concat(" ", array.concat(
	[lib.str(r.name), lib.str(lib.attr(r, "description"))],
	[lib.str(lib.get(lib.tags(r), k, "")) | some k in ["Name", "name", "Tier", "tier", "Role", "role"]],
)))

findings contains f if {
	some [r, rule, cidr] in _world_rule_egress
	groups := _rule_groups(r)
	group_hits := {[g.address, w] | some g in groups; some w in _label_words(g) & _data_words}
	own_hits := _own_words(r) & _data_words
	hits := {w | some [_, w] in group_hits} | own_hits
	count(hits) > 0
	f := {
		"address": r.address,
		"message": sprintf("data-tier security group allows all egress to %s", [cidr]),
		"evidence": {
			"cidr": cidr, "protocol": lib.protocol_label(rule.protocol), "matched_words": sort([w | some w in hits]),
			"security_groups": sort([g.address | some g in groups]),
		},
	}
}
