package arbiter.rules.aws.default_security_group_rules

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-NET-006",
	"title": "Default security group allows traffic",
	"severity": "low",
	"effect": "warn",
	"category": "network",
	"provider": "aws",
	"resource_types": ["aws_default_security_group"],
	"rationale": "Resources launched without an explicit security group land in the VPC's default group; if it allows traffic, they are silently exposed. CIS recommends the default group restrict all traffic.",
	"remediation": "Manage aws_default_security_group with no ingress and no egress blocks, and attach purpose-built security groups to every resource.",
	"checkov": ["CKV2_AWS_12"],
	"fix": [
		{"path": "ingress", "value": []},
		{"path": "egress", "value": []},
	],
}

findings contains f if {
	some r in input.resources.aws_default_security_group
	some direction in ["ingress", "egress"]
	n := count(lib.blocks(r, direction))
	n > 0
	f := {
		"address": r.address,
		"message": sprintf("default security group has %s rules", [direction]),
		"evidence": {"direction": direction, "rules": n},
	}
}
