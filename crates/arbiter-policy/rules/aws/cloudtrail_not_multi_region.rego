package arbiter.rules.aws.cloudtrail_not_multi_region

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-CT-002",
	"title": "CloudTrail trail is single-region",
	"severity": "low",
	"effect": "warn",
	"category": "logging",
	"provider": "aws",
	"resource_types": ["aws_cloudtrail"],
	"rationale": "A single-region trail misses activity in every other region, which is where attackers launch resources they hope nobody watches.",
	"remediation": "Set is_multi_region_trail = true (and include_global_service_events = true).",
	"checkov": ["CKV_AWS_67"],
	"fix": [{"path": "is_multi_region_trail", "value": true}],
}

findings contains f if {
	some r in input.resources.aws_cloudtrail
	not r.values.is_multi_region_trail == true
	not r.unknown.is_multi_region_trail == true
	f := {
		"address": r.address,
		"message": "trail only records one region (is_multi_region_trail is not true)",
		"evidence": {"is_multi_region_trail": object.get(r.values, "is_multi_region_trail", null)},
		"severity": lib.on_update(r, "low", "medium"),
	}
}
