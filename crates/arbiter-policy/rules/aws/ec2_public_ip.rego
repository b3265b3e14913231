package arbiter.rules.aws.ec2_public_ip

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-EC2-003",
	"title": "Instance gets a public IP address",
	"severity": "low",
	"effect": "info",
	"category": "network",
	"provider": "aws",
	"resource_types": ["aws_instance", "aws_launch_template", "aws_launch_configuration"],
	"rationale": "Instances with public addresses are directly reachable from the internet whenever a security group rule allows it; most workloads belong behind a load balancer or NAT.",
	"remediation": "Set associate_public_ip_address = false and place the instance in a private subnet behind a load balancer.",
	"checkov": ["CKV_AWS_88", "CKV_AWS_389"],
}

findings contains f if {
	some r in input.resources.aws_instance
	r.values.associate_public_ip_address == true
	f := {
		"address": r.address,
		"message": "instance is assigned a public IP address",
		"evidence": {"associate_public_ip_address": true},
	}
}

findings contains f if {
	some r in input.resources.aws_launch_template
	ni := r.values.network_interfaces[_]
	lib.truthy(ni.associate_public_ip_address)
	f := {
		"address": r.address,
		"message": "launch template assigns a public IP address",
		"evidence": {"associate_public_ip_address": true},
	}
}

findings contains f if {
	some r in input.resources.aws_launch_configuration
	lib.truthy(r.values.associate_public_ip_address)
	f := {
		"address": r.address,
		"message": "launch configuration assigns a public IP address",
		"evidence": {"associate_public_ip_address": true},
	}
}
