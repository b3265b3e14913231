package arbiter.rules.aws.eks_control_plane_logging

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-EKS-003",
	"title": "EKS control plane logging incomplete",
	"severity": "low",
	"effect": "info",
	"category": "logging",
	"provider": "aws",
	"resource_types": ["aws_eks_cluster"],
	"rationale": "API server, audit and authenticator logs are the only record of who did what in the cluster.",
	"remediation": "Set enabled_cluster_log_types = [\"api\", \"audit\", \"authenticator\", \"controllerManager\", \"scheduler\"].",
	"checkov": ["CKV_AWS_37"],
}

findings contains f if {
	some r in input.resources.aws_eks_cluster
	not r.unknown.enabled_cluster_log_types == true
	enabled := {t | t := r.values.enabled_cluster_log_types[_]}
	missing := sort([t | some t in ["api", "audit", "authenticator", "controllerManager", "scheduler"]; not t in enabled])
	count(missing) > 0
	f := {
		"address": r.address,
		"message": sprintf("control plane log types not enabled: %s", [concat(", ", missing)]),
		"evidence": {"missing": missing},
	}
}
