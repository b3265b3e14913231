package arbiter.rules.aws.emr_block_public_access_disabled

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-EMR-001",
	"title": "EMR block public access switched off",
	"severity": "high",
	"effect": "escalate",
	"category": "network",
	"provider": "aws",
	"resource_types": ["aws_emr_block_public_access_configuration"],
	"rationale": "EMR block public access is the account-level guardrail that stops clusters from starting with security groups open to the world (Hadoop, Spark and Jupyter endpoints). Switching it off removes the guardrail for every cluster in the region, like turning off S3 Block Public Access.",
	"remediation": "Keep block_public_security_group_rules = true and list only the ports that must be public (22 by default) in permitted_public_security_group_rule_range.",
	"checkov": ["CKV_AWS_390"],
	"fix": [{"path": "block_public_security_group_rules", "value": true}],
}

findings contains f if {
	some r in input.resources.aws_emr_block_public_access_configuration
	lib.falsy(r.values.block_public_security_group_rules)
	f := {
		"address": r.address,
		"message": "EMR block public access is disabled (block_public_security_group_rules = false)",
		"evidence": {"block_public_security_group_rules": false},
	}
}
