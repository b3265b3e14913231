package arbiter.rules.aws.config_recorder_disabled

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-CONFIG-001",
	"title": "AWS Config recording stopped or partial",
	"severity": "high",
	"effect": "escalate",
	"category": "logging",
	"provider": "aws",
	"resource_types": ["aws_config_configuration_recorder_status", "aws_config_configuration_recorder"],
	"rationale": "AWS Config is the account's record of configuration changes, which investigations and compliance rules depend on. Stopping the recorder hides later changes, as stopping CloudTrail hides API calls; a recorder that skips resource types leaves those changes unrecorded.",
	"remediation": "Keep is_enabled = true on aws_config_configuration_recorder_status, and record all supported resource types (recording_group { all_supported = true, include_global_resource_types = true } in one region).",
	"checkov": ["CKV2_AWS_45", "CKV2_AWS_48"],
	"fix": [
		{"path": "is_enabled", "value": true, "types": ["aws_config_configuration_recorder_status"]},
		{"path": "recording_group[0].all_supported", "value": true, "types": ["aws_config_configuration_recorder"]},
	],
}

findings contains f if {
	some r in input.resources.aws_config_configuration_recorder_status
	lib.falsy(r.values.is_enabled)
	f := {
		"address": r.address,
		"message": "AWS Config recorder is stopped (is_enabled = false)",
		"evidence": {"is_enabled": r.values.is_enabled},
	}
}

findings contains f if {
	some r in input.resources.aws_config_configuration_recorder
	g := r.values.recording_group[0]
	lib.falsy(g.all_supported)
	f := {
		"address": r.address,
		"message": "AWS Config recorder does not record all supported resource types",
		"evidence": {"all_supported": g.all_supported},
		"severity": "low",
		"effect": "warn",
	}
}
