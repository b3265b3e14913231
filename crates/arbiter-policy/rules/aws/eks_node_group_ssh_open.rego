package arbiter.rules.aws.eks_node_group_ssh_open

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-EKS-004",
	"title": "EKS node group opens SSH to the whole internet",
	"severity": "critical",
	"effect": "deny",
	"category": "kubernetes",
	"provider": "aws",
	"resource_types": ["aws_eks_node_group"],
	"rationale": "A node group with remote_access.ec2_ssh_key and no source_security_group_ids gets a security group that allows SSH (22) from 0.0.0.0/0 on every node: the same exposure as a world-open SSH rule (ARB-AWS-NET-001), created implicitly.",
	"remediation": "Set remote_access.source_security_group_ids to a bastion or VPN security group, or drop remote_access and reach nodes through SSM Session Manager.",
	"checkov": ["CKV_AWS_100"],
	"fix": [{"path": "remote_access", "value": []}],
}

findings contains f if {
	some r in input.resources.aws_eks_node_group
	ra := r.values.remote_access[0]
	key := ra.ec2_ssh_key
	is_string(key)
	key != ""
	not lib.is_unknown_path(r, ["remote_access", 0, "source_security_group_ids"])
	count(lib.str_array(object.get(ra, "source_security_group_ids", []))) == 0
	f := {
		"address": r.address,
		"message": "remote_access without source_security_group_ids opens SSH port 22 to 0.0.0.0/0",
		"evidence": {"ec2_ssh_key": key},
	}
}
