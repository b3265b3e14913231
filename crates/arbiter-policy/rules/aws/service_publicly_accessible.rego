package arbiter.rules.aws.service_publicly_accessible

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-NET-010",
	"title": "Managed data or messaging service reachable from the internet",
	"severity": "high",
	"effect": "escalate",
	"category": "network",
	"provider": "aws",
	"resource_types": ["aws_dms_replication_instance", "aws_neptune_cluster_instance", "aws_mq_broker", "aws_msk_cluster", "aws_mwaa_environment"],
	"rationale": "A publicly accessible replication instance, graph database, message broker, Kafka cluster or Airflow web server gets an internet-facing endpoint: only its security groups and credentials stand between the internet and the data or workflows behind it.",
	"remediation": "Keep the service private (publicly_accessible = false, MSK public_access type DISABLED, MWAA webserver_access_mode = PRIVATE_ONLY) and reach it over the VPC, a VPN or PrivateLink.",
	"checkov": ["CKV_AWS_89", "CKV_AWS_102", "CKV_AWS_69", "CKV_AWS_291", "CKV2_AWS_66"],
	"fix": [
		{"path": "publicly_accessible", "value": false, "types": ["aws_dms_replication_instance", "aws_neptune_cluster_instance", "aws_mq_broker"]},
		{"path": "broker_node_group_info[0].connectivity_info[0].public_access[0].type", "value": "DISABLED", "types": ["aws_msk_cluster"]},
		{"path": "webserver_access_mode", "value": "PRIVATE_ONLY", "types": ["aws_mwaa_environment"]},
	],
}

findings contains f if {
	some t in ["aws_dms_replication_instance", "aws_neptune_cluster_instance", "aws_mq_broker"]
	some r in input.resources[t]
	lib.truthy(r.values.publicly_accessible)
	f := {
		"address": r.address,
		"message": "publicly_accessible = true gives the service an internet-facing endpoint",
		"evidence": {"publicly_accessible": r.values.publicly_accessible},
	}
}

findings contains f if {
	some r in input.resources.aws_msk_cluster
	t := r.values.broker_node_group_info[0].connectivity_info[0].public_access[0].type
	t == "SERVICE_PROVIDED_EIPS"
	f := {
		"address": r.address,
		"message": "Kafka brokers get public IP addresses (public_access type SERVICE_PROVIDED_EIPS)",
		"evidence": {"public_access_type": t},
	}
}

findings contains f if {
	some r in input.resources.aws_mwaa_environment
	r.values.webserver_access_mode == "PUBLIC_ONLY"
	f := {
		"address": r.address,
		"message": "Airflow web server is reachable from the internet (webserver_access_mode = PUBLIC_ONLY)",
		"evidence": {"webserver_access_mode": "PUBLIC_ONLY"},
	}
}
