package arbiter.rules.aws.subnet_private_public_ip

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-NET-009",
	"title": "Private subnet assigns public IP addresses on launch",
	"severity": "medium",
	"effect": "warn",
	"category": "network",
	"provider": "aws",
	"resource_types": ["aws_subnet"],
	"rationale": "map_public_ip_on_launch gives every instance launched in the subnet a public IPv4 address. In a subnet named or tagged private this contradicts its purpose: with any internet gateway route the instances become directly reachable, and their exposure then rests on security groups alone.",
	"remediation": "Set map_public_ip_on_launch = false on private subnets (the default) and reach the internet through a NAT gateway; put instances that need a public address in a public subnet.",
	"checkov": ["CKV_AWS_130"],
	"fix": [{"path": "map_public_ip_on_launch", "value": false}],
}

_label_words(r) := lib.words(concat(" ", array.concat(
	[lib.str(r.name)],
	[lib.str(lib.get(lib.tags(r), k, "")) | some k in ["Name", "name", "Tier", "tier", "Type", "type", "Network", "network", "Visibility", "visibility", "Scope", "scope"]],
)))

findings contains f if {
	some r in input.resources.aws_subnet
	lib.truthy(r.values.map_public_ip_on_launch)
	w := _label_words(r)
	hits := w & {"private", "isolated"}
	count(hits) > 0
	not "public" in w
	f := {
		"address": r.address,
		"message": "private subnet assigns a public IP address to every instance launched in it",
		"evidence": {"map_public_ip_on_launch": r.values.map_public_ip_on_launch, "matched_words": sort([x | some x in hits])},
	}
}
