package arbiter.rules.aws.guardduty_disabled

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-GD-001",
	"title": "GuardDuty threat detection disabled",
	"severity": "high",
	"effect": "escalate",
	"category": "logging",
	"provider": "aws",
	"resource_types": ["aws_guardduty_detector", "aws_guardduty_organization_configuration"],
	"rationale": "GuardDuty is the account's threat detection (credential misuse, crypto-mining, exfiltration). Suspending a detector blinds it, the same way stopping CloudTrail does; an organization configuration that does not enrol member accounts leaves new accounts unwatched.",
	"remediation": "Keep enable = true on the detector (delete the resource only through a reviewed change), and set auto_enable_organization_members = \"ALL\" (or \"NEW\") on the delegated administrator's organization configuration.",
	"checkov": ["CKV_AWS_238", "CKV2_AWS_3"],
	"fix": [
		{"path": "enable", "value": true, "types": ["aws_guardduty_detector"]},
		{"path": "auto_enable_organization_members", "value": "ALL", "types": ["aws_guardduty_organization_configuration"]},
	],
}

findings contains f if {
	some r in input.resources.aws_guardduty_detector
	lib.falsy(r.values.enable)
	f := {
		"address": r.address,
		"message": "GuardDuty detector is disabled (enable = false)",
		"evidence": {"enable": r.values.enable},
	}
}

findings contains f if {
	some r in input.resources.aws_guardduty_organization_configuration
	_not_enrolling(r)
	f := {
		"address": r.address,
		"message": "GuardDuty is not enabled automatically for the organization's member accounts",
		"evidence": {
			"auto_enable_organization_members": object.get(r.values, "auto_enable_organization_members", null),
			"auto_enable": object.get(r.values, "auto_enable", null),
		},
		"severity": "low",
		"effect": "warn",
	}
}

_not_enrolling(r) if r.values.auto_enable_organization_members == "NONE"

_not_enrolling(r) if {
	object.get(r.values, "auto_enable_organization_members", null) == null
	not r.unknown.auto_enable_organization_members == true
	lib.falsy(r.values.auto_enable)
}
