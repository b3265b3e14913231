package arbiter.rules.aws.ec2_block_device_unencrypted

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-EC2-002",
	"title": "Instance or launch template block device not encrypted",
	"severity": "medium",
	"effect": "warn",
	"category": "encryption",
	"provider": "aws",
	"resource_types": ["aws_instance", "aws_launch_configuration", "aws_launch_template"],
	"rationale": "Root and data volumes created from an instance or template without encryption hold the application's data (and often credentials) in clear on EBS and in every snapshot.",
	"remediation": "Set encrypted = true in root_block_device / ebs_block_device (or ebs { encrypted = \"true\" } in launch template block_device_mappings), or enable EBS encryption by default.",
	"checkov": ["CKV_AWS_8"],
	"fix": [
		{"path": "root_block_device[0].encrypted", "value": true, "types": ["aws_instance", "aws_launch_configuration"]},
		{"path": "ebs_block_device[*].encrypted", "value": true, "types": ["aws_instance", "aws_launch_configuration"]},
		{"path": "block_device_mappings[*].ebs[0].encrypted", "value": "true", "types": ["aws_launch_template"]},
	],
}

findings contains f if {
	some t in ["aws_instance", "aws_launch_configuration"]
	some r in input.resources[t]
	not r.values.root_block_device[0].encrypted == true
	f := _root_finding(r)
}

findings contains f if {
	some t in ["aws_instance", "aws_launch_configuration"]
	some r in input.resources[t]
	r.values.ebs_block_device[_].encrypted != true
	b := r.values.ebs_block_device[i]
	f := _finding(r, "ebs_block_device", i, b)
}

_root_finding(r) := _finding(r, "root_block_device", 0, r.values.root_block_device[0])

# root_block_device not configured (computed at apply, or empty): the root volume is
# unencrypted unless EBS encryption by default is enabled in the region. Info only.
_root_finding(r) := {
	"address": r.address,
	"message": "root_block_device encryption is not configured (unencrypted unless EBS encryption by default is enabled)",
	"evidence": {"root_block_device_unknown": object.get(r.unknown, "root_block_device", false) == true},
	"effect": "info",
	"severity": "low",
} if not r.values.root_block_device[0]

_finding(r, kind, i, b) := {
	"address": r.address,
	"message": sprintf("%s %s is not encrypted", [kind, _device(b, kind)]),
	"evidence": {"block": kind, "device_name": lib.get(b, "device_name", null), "encrypted": lib.get(b, "encrypted", null)},
} if {
	is_object(b)
	not r.unknown[kind] == true
	not lib.is_unknown_path(r, [kind, i, "encrypted"])
	not lib.truthy(lib.get(b, "encrypted", null))
}

findings contains f if {
	some r in input.resources.aws_launch_template
	m := r.values.block_device_mappings[_]
	e := m.ebs[_]
	lib.falsy(e.encrypted)
	f := {
		"address": r.address,
		"message": sprintf("block_device_mappings %s is not encrypted", [lib.str(lib.get(m, "device_name", ""))]),
		"evidence": {"device_name": lib.get(m, "device_name", null), "encrypted": lib.get(e, "encrypted", null)},
	}
}

_device(b, "root_block_device") := "(root)"

_device(b, "ebs_block_device") := lib.str(lib.get(b, "device_name", ""))
