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

_single_types := ["aws_instance", "aws_launch_template", "aws_launch_configuration", "aws_spot_instance_request"]

# Distinct instance types in the change (cheap: one pass, no per-instance builtins), then the
# accelerated ones among them; resources are only scanned again when there is one.
_distinct := {it | some t in _single_types; it := input.resources[t][_].values.instance_type} | {it |
	it := input.resources.aws_eks_node_group[_].values.instance_types[_]
}

_accelerated := {it | some it in _distinct; is_string(it); accelerated(it)}

findings contains f if {
	count(_accelerated) > 0
	some t in _single_types
	some r in input.resources[t]
	r.values.instance_type in _accelerated
	f := _finding(r, r.values.instance_type)
}

findings contains f if {
	count(_accelerated) > 0
	some r in input.resources.aws_eks_node_group
	it := r.values.instance_types[_]
	it in _accelerated
	f := _finding(r, it)
}

_finding(r, it) := {
	"address": r.address,
	"message": sprintf("uses accelerator instance type %s", [it]),
	"evidence": {"instance_type": it},
}
