package arbiter.rules.aws.eks_public_endpoint_open

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-EKS-001",
	"title": "EKS API endpoint reachable from the whole internet",
	"severity": "high",
	"effect": "escalate",
	"category": "kubernetes",
	"provider": "aws",
	"resource_types": ["aws_eks_cluster"],
	"rationale": "With endpoint_public_access = true and public_access_cidrs containing 0.0.0.0/0 (the AWS default when omitted), the Kubernetes API server is exposed to the internet, one leaked kubeconfig or API server bug away from cluster takeover.",
	"remediation": "Set vpc_config.endpoint_public_access = false and endpoint_private_access = true, or restrict vpc_config.public_access_cidrs to known egress ranges.",
	"checkov": ["CKV_AWS_38", "CKV_AWS_39"],
	"fix": [{"path": "vpc_config[0].endpoint_public_access", "value": false}],
}

findings contains f if {
	some r in input.resources.aws_eks_cluster
	vc := r.values.vpc_config[0]
	not vc.endpoint_public_access == false
	not lib.is_unknown_path(r, ["vpc_config", 0, "endpoint_public_access"])
	some c in _open_cidrs(r, vc)
	f := {
		"address": r.address,
		"message": "public API endpoint is reachable from 0.0.0.0/0",
		"evidence": {"public_access_cidrs": object.get(vc, "public_access_cidrs", null), "matched": c},
		"effect": _effect(r),
	}
}

_open_cidrs(_, vc) := [c | c := vc.public_access_cidrs[_]; lib.is_world_cidr(c)] if {
	is_array(vc.public_access_cidrs)
	count(vc.public_access_cidrs) > 0
}

# Omitted (null/empty, or computed at apply): AWS applies 0.0.0.0/0.
else := ["default"]

# When the CIDRs are only known at apply the default is likely but not certain: warn.
_effect(r) := "warn" if lib.is_unknown_path(r, ["vpc_config", 0, "public_access_cidrs"])

else := "escalate"
