package arbiter.rules.aws.route_private_table_to_igw

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-NET-008",
	"title": "Private route table sends the default route to an internet gateway",
	"severity": "medium",
	"effect": "warn",
	"category": "network",
	"provider": "aws",
	"resource_types": ["aws_route", "aws_route_table", "aws_route_table_association", "aws_subnet"],
	"rationale": "A 0.0.0.0/0 or ::/0 route to an internet gateway makes every subnet using the table public: instances with a public address become reachable from, and reach, the internet directly, bypassing the NAT gateway and whatever egress control the private tier relied on.",
	"remediation": "Send the default route of private tables to a NAT gateway (nat_gateway_id), an egress-only internet gateway (IPv6) or a firewall/transit gateway; keep internet gateway routes in the public subnets' table only.",
	"checkov": [],
	"joins": true,
}

_private_words := {"private", "isolated"}

# Words that say what a table or subnet is: its Terraform name and its naming tags.
_label_words(r) := lib.words(concat(" ", array.concat(
	[lib.str(r.name)],
	[lib.str(lib.get(lib.tags(r), k, "")) | some k in ["Name", "name", "Tier", "tier", "Type", "type", "Network", "network", "Visibility", "visibility", "Scope", "scope"]],
)))

_labelled_private(r) if {
	w := _label_words(r)
	count(w & _private_words) > 0
	not "public" in w
}

_refs(r, arg) := object.get(object.get(r, "refs", {}), arg, [])

_is_igw_address(t) if startswith(t, "aws_internet_gateway.")

_is_igw_address(t) if contains(t, ".aws_internet_gateway.")

_igw_id(id) if {
	is_string(id)
	startswith(id, "igw-")
}

# Indexes (built once per evaluation): resources by configuration address and by id,
# and associations by the table and subnet they name.
_tables_by_cfg[ca] contains t if {
	some t in object.get(input.resources, "aws_route_table", [])
	ca := t.config_address
}

_tables_by_id[id] contains t if {
	some t in object.get(input.resources, "aws_route_table", [])
	id := t.values.id
	is_string(id)
}

_subnets_by_cfg[ca] contains s if {
	some s in object.get(input.resources, "aws_subnet", [])
	ca := s.config_address
}

_subnets_by_id[id] contains s if {
	some s in object.get(input.resources, "aws_subnet", [])
	id := s.values.id
	is_string(id)
}

_assocs_by_table_cfg[ca] contains a if {
	some a in object.get(input.resources, "aws_route_table_association", [])
	some ca in _refs(a, "route_table_id")
}

_assocs_by_table_id[id] contains a if {
	some a in object.get(input.resources, "aws_route_table_association", [])
	id := a.values.route_table_id
	is_string(id)
}

# Tables of the change that a route names (by reference or known id).
_tables(r) := {t | some ca in _refs(r, "route_table_id"); some t in _tables_by_cfg[ca]} | {t |
	id := r.values.route_table_id
	is_string(id)
	some t in _tables_by_id[id]
}

# Subnets of the change that an association names.
_subnets(a) := {s | some ca in _refs(a, "subnet_id"); some s in _subnets_by_cfg[ca]} | {s |
	id := a.values.subnet_id
	is_string(id)
	some s in _subnets_by_id[id]
}

# Associations of the change that name a table.
_assocs(t) := {a | some a in _assocs_by_table_cfg[t.config_address]} | {a |
	id := t.values.id
	is_string(id)
	some a in _assocs_by_table_id[id]
}

# Why a table is private: its own labels, or a private subnet associated with it.
_private_because(t) := sprintf("route table %s is labelled private", [t.address]) if {
	_labelled_private(t)
} else := sprintf("private subnet %s uses route table %s", [s.address, t.address]) if {
	some a in _assocs(t)
	some s in _subnets(a)
	_labelled_private(s)
}

_world_destination(r) := "0.0.0.0/0" if r.values.destination_cidr_block == "0.0.0.0/0"

else := "::/0" if r.values.destination_ipv6_cidr_block == "::/0"

_route_to_igw(r) if _igw_id(r.values.gateway_id)

_route_to_igw(r) if {
	some t in _refs(r, "gateway_id")
	_is_igw_address(t)
}

# aws_route resources.
findings contains f if {
	some r in input.resources.aws_route
	cidr := _world_destination(r)
	_route_to_igw(r)
	reasons := {why | some t in _tables(r); why := _private_because(t)} | {sprintf("route %s is labelled private", [r.address]) | _labelled_private(r)}
	count(reasons) > 0
	f := {
		"address": r.address,
		"message": sprintf("routes %s to an internet gateway from a private route table", [cidr]),
		"evidence": {"destination": cidr, "gateway_id": object.get(r.values, "gateway_id", null), "why_private": sort([x | some x in reasons])},
	}
}

# Inline route blocks of aws_route_table.
_inline_world_igw(t) := {cidr |
	some i
	b := t.values.route[i]
	cidr := _block_world(b)
	_block_to_igw(t, i, b)
}

_block_world(b) := "0.0.0.0/0" if b.cidr_block == "0.0.0.0/0"

else := "::/0" if b.ipv6_cidr_block == "::/0"

_block_to_igw(_, _, b) if _igw_id(b.gateway_id)

# gateway_id known only at apply (the gateway is created in the same change): the
# table's route argument refers to an internet gateway.
_block_to_igw(t, i, _) if {
	t.unknown.route[i].gateway_id == true
	some a in _refs(t, "route")
	_is_igw_address(a)
}

findings contains f if {
	some t in input.resources.aws_route_table
	t.values.route[_]
	some cidr in _inline_world_igw(t)
	why := _private_because(t)
	f := {
		"address": t.address,
		"message": sprintf("routes %s to an internet gateway from a private route table", [cidr]),
		"evidence": {"destination": cidr, "why_private": [why]},
	}
}
