package arbiter.rules.aws.rds_publicly_accessible

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-RDS-001",
	"title": "RDS database publicly accessible",
	"severity": "critical",
	"effect": "deny",
	"category": "database",
	"provider": "aws",
	"resource_types": ["aws_db_instance", "aws_rds_cluster_instance"],
	"rationale": "publicly_accessible = true gives the database a public DNS name and address; one permissive security group rule away from the internet, it becomes a target for credential stuffing and engine exploits.",
	"remediation": "Set publicly_accessible = false and reach the database from inside the VPC (application subnets, VPN, SSM port forwarding).",
	"checkov": ["CKV_AWS_17"],
	"fix": [{"path": "publicly_accessible", "value": false}],
}

findings contains f if {
	some t in metadata.resource_types
	some r in input.resources[t]
	r.values.publicly_accessible == true
	f := {
		"address": r.address,
		"message": "database is publicly accessible (publicly_accessible = true)",
		"evidence": {"publicly_accessible": true},
	}
}
