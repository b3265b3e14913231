package arbiter.rules.aws.default_vpc_in_use

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-NET-007",
	"title": "Default VPC or default subnet managed",
	"severity": "low",
	"effect": "warn",
	"category": "network",
	"provider": "aws",
	"resource_types": ["aws_default_vpc", "aws_default_subnet"],
	"rationale": "The default VPC has public subnets that assign public IPs automatically and a permissive default network layout; workloads placed there are internet-facing by accident.",
	"remediation": "Create a dedicated aws_vpc with private subnets for workloads; leave the default VPC unused (or delete it) instead of managing aws_default_vpc / aws_default_subnet.",
	"checkov": ["CKV_AWS_148"],
}

findings contains f if {
	some t in metadata.resource_types
	some r in input.resources[t]
	f := {
		"address": r.address,
		"message": sprintf("uses the account's default network (%s)", [t]),
		"evidence": {"type": t},
	}
}
