package arbiter.rules.aws.redshift_publicly_accessible

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-REDSHIFT-002",
	"title": "Redshift cluster publicly accessible",
	"severity": "critical",
	"effect": "deny",
	"category": "database",
	"provider": "aws",
	"resource_types": ["aws_redshift_cluster"],
	"rationale": "publicly_accessible = true gives the warehouse a public endpoint; combined with any permissive security group rule the organisation's data is exposed to the internet.",
	"remediation": "Set publicly_accessible = false and connect through the VPC (VPN, bastion, or Redshift-managed VPC endpoints).",
	"checkov": ["CKV_AWS_87"],
	"fix": [{"path": "publicly_accessible", "value": false}],
}

findings contains f if {
	some r in input.resources.aws_redshift_cluster
	r.values.publicly_accessible == true
	f := {
		"address": r.address,
		"message": "cluster is publicly accessible (publicly_accessible = true)",
		"evidence": {"publicly_accessible": true},
	}
}
