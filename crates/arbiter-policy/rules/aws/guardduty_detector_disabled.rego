package arbiter.rules.aws.guardduty_detector_disabled

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-GD-901",
	"title": "GuardDuty detector disabled",
	"severity": "high",
	"effect": "escalate",
	"category": "logging",
	"provider": "aws",
	"resource_types": ["aws_guardduty_detector"],
	"rationale": "enable = false suspends GuardDuty threat detection for the account and region: credential exfiltration, crypto-mining and reconnaissance stop raising findings. Like stopping CloudTrail, it is a classic first step of an attacker and needs a person's sign-off.",
	"remediation": "Keep enable = true on every detector; to reduce cost, tune the protection plans (aws_guardduty_detector_feature) instead of suspending the detector.",
	"checkov": ["CKV2_AWS_3"],
}

findings contains f if {
	some r in input.resources.aws_guardduty_detector
	r.values.enable in {false, "false"}
	f := {
		"address": r.address,
		"message": "GuardDuty detector is disabled (enable = false)",
		"evidence": {"enable": r.values.enable, "account_id": object.get(r.values, "account_id", null)},
	}
}
