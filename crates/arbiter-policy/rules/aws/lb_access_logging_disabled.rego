package arbiter.rules.aws.lb_access_logging_disabled

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-ELB-003",
	"title": "Load balancer access logging disabled",
	"severity": "low",
	"effect": "info",
	"category": "logging",
	"provider": "aws",
	"resource_types": ["aws_lb", "aws_alb", "aws_elb"],
	"rationale": "Access logs are the record of every request the load balancer served; without them abuse and incidents cannot be investigated.",
	"remediation": "Add access_logs { bucket = \"<log bucket>\" enabled = true }.",
	"checkov": ["CKV_AWS_91", "CKV_AWS_92"],
}

findings contains f if {
	some t in metadata.resource_types
	some r in input.resources[t]
	not _enabled(r)
	not r.unknown.access_logs == true
	object.get(r.values, "load_balancer_type", "application") != "gateway"
	f := {
		"address": r.address,
		"message": "access logging is disabled",
		"evidence": {"access_logs": object.get(r.values, "access_logs", null)},
	}
}

_enabled(r) if r.values.access_logs[0].enabled == true

# classic ELB: a configured access_logs block is enabled unless it says otherwise
_enabled(r) if {
	r.type == "aws_elb"
	b := r.values.access_logs[0]
	b.bucket != null
	not b.enabled == false
}
