package arbiter.rules.aws.lb_deletion_protection_disabled

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-ELB-901",
	"title": "Production load balancer without deletion protection",
	"severity": "medium",
	"effect": "warn",
	"category": "network",
	"provider": "aws",
	"resource_types": ["aws_lb", "aws_alb"],
	"rationale": "A production load balancer is the entry point of its service; deleting or replacing it by mistake drops all traffic and changes its DNS name. Deletion protection makes that a two-step, deliberate act. Turning it off on an existing production load balancer is reported at medium severity; a new one created without it is reported at low severity (it is the provider default).",
	"remediation": "Set enable_deletion_protection = true on production load balancers (turn it off explicitly, in its own change, before an intended deletion).",
	"checkov": ["CKV_AWS_150"],
	"fix": [{"path": "enable_deletion_protection", "value": true}],
}

findings contains f if {
	input.stack.environment == "prod"
	some t in metadata.resource_types
	some r in input.resources[t]
	not r.values.enable_deletion_protection == true
	not r.unknown.enable_deletion_protection == true
	f := {
		"address": r.address,
		"message": "production load balancer has deletion protection disabled",
		"evidence": {"enable_deletion_protection": object.get(r.values, "enable_deletion_protection", null)},
		"severity": _severity(r),
	}
}

# A plain create is the provider default; anything on an existing load balancer
# (update, or a replacement) turns protection off deliberately.
_severity(r) := "low" if r.actions == ["create"]

else := "medium"
