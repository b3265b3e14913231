package arbiter.rules.aws.gpu_instance_type

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-COST-001",
	"title": "GPU or accelerator instance type",
	"severity": "medium",
	"effect": "escalate",
	"category": "cost",
	"provider": "aws",
	"resource_types": ["aws_instance", "aws_launch_template", "aws_launch_configuration", "aws_spot_instance_request", "aws_eks_node_group"],
	"rationale": "GPU and accelerator families (p, g, inf, trn, dl, f, vt) cost from several to tens of dollars per hour per instance; one left running can exhaust a monthly budget in days, so a person must see every new one.",
	"remediation": "Confirm the workload needs an accelerator, pick the smallest size, and bound its lifetime (spot, scheduled scaling, TTL on the stack); otherwise use a general-purpose type.",
	"checkov": [],
}

# Instance family prefixes of GPU / ML-accelerator / FPGA / video-transcoding instances.
accelerated(instance_type) if {
	family := lower(split(instance_type, ".")[0])
	some p in ["p2", "p3", "p4", "p5", "p6", "g2", "g3", "g4", "g5", "g6", "gr6", "inf1", "inf2", "trn1", "trn2", "dl1", "dl2", "f1", "f2", "vt1"]
	startswith(family, p)
}

findings contains f if {
	some t in ["aws_instance", "aws_launch_template", "aws_launch_configuration", "aws_spot_instance_request"]
	some r in input.resources[t]
	it := r.values.instance_type
	is_string(it)
	substring(it, 0, 2) in {"p2", "p3", "p4", "p5", "p6", "g2", "g3", "g4", "g5", "g6", "gr", "in", "tr", "dl", "f1", "f2", "vt"}
	accelerated(it)
	f := _finding(r, it)
}

findings contains f if {
	some r in input.resources.aws_eks_node_group
	it := r.values.instance_types[_]
	is_string(it)
	accelerated(it)
	f := _finding(r, it)
}

_finding(r, it) := {
	"address": r.address,
	"message": sprintf("uses accelerator instance type %s", [it]),
	"evidence": {"instance_type": it},
}
