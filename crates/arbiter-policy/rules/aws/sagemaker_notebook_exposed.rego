package arbiter.rules.aws.sagemaker_notebook_exposed

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-SM-001",
	"title": "SageMaker notebook allows IMDSv1, direct internet access or root",
	"severity": "medium",
	"effect": "warn",
	"category": "compute",
	"provider": "aws",
	"resource_types": ["aws_sagemaker_notebook_instance"],
	"rationale": "A notebook that allows IMDSv1 hands its role's credentials to any SSRF in the code it runs; direct internet access (the default) and root access (the default) make exfiltration and tampering easier.",
	"remediation": "Set instance_metadata_service_configuration { minimum_instance_metadata_service_version = \"2\" }, direct_internet_access = \"Disabled\" with a subnet_id (reach the internet through a NAT gateway or VPC endpoints) and root_access = \"Disabled\".",
	"checkov": ["CKV_AWS_371", "CKV_AWS_122", "CKV_AWS_307"],
	"fix": [
		{"path": "root_access", "value": "Disabled"},
		{"path": "direct_internet_access", "value": "Disabled"},
		{"path": "instance_metadata_service_configuration[0].minimum_instance_metadata_service_version", "value": "2"},
	],
}

findings contains f if {
	some r in input.resources.aws_sagemaker_notebook_instance
	r.values.instance_metadata_service_configuration[0].minimum_instance_metadata_service_version == "1"
	f := {
		"address": r.address,
		"message": "notebook allows IMDSv1 (minimum_instance_metadata_service_version = 1)",
		"evidence": {"minimum_instance_metadata_service_version": "1"},
	}
}

# The AWS defaults: hygiene-grade, reported low.
findings contains f if {
	some r in input.resources.aws_sagemaker_notebook_instance
	some [a, message] in [
		["direct_internet_access", "notebook has direct internet access (direct_internet_access = Enabled)"],
		["root_access", "notebook users have root access (root_access = Enabled)"],
	]
	object.get(r.values, a, null) in {"Enabled", null}
	not lib.is_unknown(r, a)
	f := {
		"address": r.address,
		"message": message,
		"evidence": {a: object.get(r.values, a, null)},
		"severity": "low",
	}
}
