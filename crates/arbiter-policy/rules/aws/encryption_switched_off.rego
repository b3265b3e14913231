package arbiter.rules.aws.encryption_switched_off

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-ENC-001",
	"title": "Stream, cache, cluster or workspace without encryption at rest or in transit",
	"severity": "medium",
	"effect": "warn",
	"category": "encryption",
	"provider": "aws",
	"resource_types": [
		"aws_kinesis_stream", "aws_dax_cluster", "aws_memorydb_cluster", "aws_msk_cluster", "aws_workspaces_workspace",
		"aws_codebuild_project", "aws_rds_global_cluster", "aws_docdb_global_cluster",
	],
	"rationale": "These services do not encrypt by default (or let the setting be turned off): Kinesis streams, DAX clusters, WorkSpaces volumes and global database clusters store data in clear unless told otherwise; MemoryDB, DAX and MSK can carry client traffic in clear text; CodeBuild can write unencrypted artifacts.",
	"remediation": "Kinesis: encryption_type = \"KMS\"; DAX: server_side_encryption { enabled = true } and cluster_endpoint_encryption_type = \"TLS\"; MemoryDB: tls_enabled = true; MSK: client_broker = \"TLS\" and in_cluster = true; WorkSpaces: root_volume_encryption_enabled and user_volume_encryption_enabled = true; CodeBuild: encryption_disabled = false; global clusters: storage_encrypted = true.",
	"checkov": ["CKV_AWS_43", "CKV_AWS_47", "CKV_AWS_239", "CKV_AWS_202", "CKV_AWS_81", "CKV_AWS_155", "CKV_AWS_156", "CKV_AWS_78", "CKV_AWS_140", "CKV_AWS_292"],
}

_finding(r, message, evidence) := {"address": r.address, "message": message, "evidence": evidence}

# Kinesis: encryption_type NONE (the default).
findings contains _finding(r, "stream data is not encrypted at rest (encryption_type = NONE)", {"encryption_type": r.values.encryption_type}) if {
	some r in input.resources.aws_kinesis_stream
	object.get(r.values, "encryption_type", null) in {"NONE", null}
	not r.unknown.encryption_type == true
}

# DAX: server-side encryption block absent or disabled; endpoint without TLS.
findings contains _finding(r, "cluster data is not encrypted at rest (server_side_encryption not enabled)", {}) if {
	some r in input.resources.aws_dax_cluster
	not lib.truthy(r.values.server_side_encryption[0].enabled)
	not lib.is_unknown_path(r, ["server_side_encryption", 0, "enabled"])
}

findings contains _finding(r, "cluster endpoint does not use TLS (cluster_endpoint_encryption_type is not TLS)", {"cluster_endpoint_encryption_type": object.get(r.values, "cluster_endpoint_encryption_type", null)}) if {
	some r in input.resources.aws_dax_cluster
	object.get(r.values, "cluster_endpoint_encryption_type", null) in {"NONE", null}
	not r.unknown.cluster_endpoint_encryption_type == true
}

# MemoryDB: TLS switched off (on by default).
findings contains _finding(r, "cluster accepts clients without TLS (tls_enabled = false)", {"tls_enabled": false}) if {
	some r in input.resources.aws_memorydb_cluster
	lib.falsy(r.values.tls_enabled)
}

# MSK: plaintext between clients and brokers, or inside the cluster.
findings contains _finding(r, sprintf("Kafka accepts plaintext client traffic (client_broker = %s)", [cb]), {"client_broker": cb}) if {
	some r in input.resources.aws_msk_cluster
	cb := r.values.encryption_info[0].encryption_in_transit[0].client_broker
	cb in {"PLAINTEXT", "TLS_PLAINTEXT"}
}

findings contains _finding(r, "traffic between brokers is not encrypted (in_cluster = false)", {"in_cluster": false}) if {
	some r in input.resources.aws_msk_cluster
	lib.falsy(r.values.encryption_info[0].encryption_in_transit[0].in_cluster)
}

# WorkSpaces: volumes unencrypted (the default).
findings contains _finding(r, sprintf("%s is not enabled", [a]), {a: object.get(r.values, a, null)}) if {
	some r in input.resources.aws_workspaces_workspace
	some a in ["root_volume_encryption_enabled", "user_volume_encryption_enabled"]
	not lib.truthy(object.get(r.values, a, null))
	not lib.is_unknown(r, a)
}

# CodeBuild: artifacts written unencrypted.
findings contains _finding(r, "build artifacts are not encrypted (encryption_disabled = true)", {"encryption_disabled": true}) if {
	some r in input.resources.aws_codebuild_project
	a := r.values.artifacts[0]
	lib.truthy(a.encryption_disabled)
	not a.type == "NO_ARTIFACTS"
}

# Global clusters created from scratch without storage encryption.
findings contains _finding(r, "global cluster storage is not encrypted (storage_encrypted is not true)", {"storage_encrypted": object.get(r.values, "storage_encrypted", null)}) if {
	some t in ["aws_rds_global_cluster", "aws_docdb_global_cluster"]
	some r in input.resources[t]
	not lib.truthy(object.get(r.values, "storage_encrypted", null))
	not lib.is_unknown(r, "storage_encrypted")
	# a global cluster made from an existing cluster inherits its encryption
	object.get(r.values, "source_db_cluster_identifier", null) == null
	not lib.is_unknown(r, "source_db_cluster_identifier")
}
