package arbiter.rules.aws.vpc_flow_logs_missing

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-VPC-001",
	"title": "VPC created without a flow log in the same change",
	"severity": "low",
	"effect": "info",
	"category": "logging",
	"provider": "aws",
	"resource_types": ["aws_vpc", "aws_flow_log"],
	"rationale": "VPC flow logs are the only record of which addresses talked to which hosts; without them incident response cannot reconstruct network activity.",
	"remediation": "Add an aws_flow_log with vpc_id = aws_vpc.<name>.id sending to CloudWatch Logs or S3 (traffic_type = \"ALL\").",
	"checkov": ["CKV2_AWS_11"],
	"joins": true,
}

findings contains f if {
	some r in input.resources.aws_vpc
	"create" in r.actions
	count(object.get(input.resources, "aws_flow_log", [])) == 0
	f := {
		"address": r.address,
		"message": "VPC has no flow log in this change",
		"evidence": {},
	}
}
