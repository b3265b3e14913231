package arbiter.rules.aws.ebs_encryption_by_default_disabled

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-EBS-002",
	"title": "EBS encryption by default disabled",
	"severity": "medium",
	"effect": "warn",
	"category": "encryption",
	"provider": "aws",
	"resource_types": ["aws_ebs_encryption_by_default"],
	"rationale": "Account-level EBS encryption by default guarantees that every new volume and snapshot copy in the region is encrypted, even when a template forgets to ask.",
	"remediation": "Set enabled = true on aws_ebs_encryption_by_default.",
	"checkov": ["CKV_AWS_106"],
	"fix": [{"path": "enabled", "value": true}],
}

findings contains f if {
	some r in input.resources.aws_ebs_encryption_by_default
	lib.falsy(lib.attr(r, "enabled"))
	f := {
		"address": r.address,
		"message": "EBS encryption by default is disabled for the region",
		"evidence": {"enabled": false},
	}
}
