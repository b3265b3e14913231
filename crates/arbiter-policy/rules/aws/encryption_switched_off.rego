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
		"aws_kinesis_firehose_delivery_stream", "aws_appsync_api_cache", "aws_ami_copy", "aws_dlm_lifecycle_policy",
		"aws_emr_security_configuration", "aws_glue_data_catalog_encryption_settings", "aws_glue_security_configuration",
	],
	"rationale": "These services do not encrypt by default (or let the setting be turned off): Kinesis streams, DAX clusters, WorkSpaces volumes and global database clusters store data in clear unless told otherwise; MemoryDB, DAX and MSK can carry client traffic in clear text; CodeBuild can write unencrypted artifacts.",
	"remediation": "Firehose: server_side_encryption { enabled = true }; AppSync cache: at_rest_encryption_enabled and transit_encryption_enabled = true; aws_ami_copy and DLM cross-region copies: encrypted = true; EMR security configuration: EnableAtRestEncryption with local-disk and EBS encryption, EnableInTransitEncryption; Glue: catalog_encryption_mode = \"SSE-KMS\", S3/CloudWatch/job-bookmark encryption modes other than DISABLED; Kinesis: encryption_type = \"KMS\"; DAX: server_side_encryption { enabled = true } and cluster_endpoint_encryption_type = \"TLS\"; MemoryDB: tls_enabled = true; MSK: client_broker = \"TLS\" and in_cluster = true; WorkSpaces: root_volume_encryption_enabled and user_volume_encryption_enabled = true; CodeBuild: encryption_disabled = false; global clusters: storage_encrypted = true.",
	"checkov": [
		"CKV_AWS_43", "CKV_AWS_47", "CKV_AWS_239", "CKV_AWS_202", "CKV_AWS_81", "CKV_AWS_155", "CKV_AWS_156", "CKV_AWS_78", "CKV_AWS_140", "CKV_AWS_292",
		"CKV_AWS_240", "CKV_AWS_214", "CKV_AWS_215", "CKV_AWS_235", "CKV_AWS_253", "CKV_AWS_255", "CKV_AWS_349", "CKV_AWS_350", "CKV_AWS_351",
		"CKV_AWS_94", "CKV_AWS_99",
	],
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

# Firehose: server-side encryption off. Data is only buffered (minutes) and its destinations
# encrypt on their own, so this is low.
findings contains f if {
	some r in input.resources.aws_kinesis_firehose_delivery_stream
	lib.falsy(r.values.server_side_encryption[0].enabled)
	f := object.union(_finding(r, "delivery stream buffers data unencrypted (server_side_encryption disabled)", {}), {"severity": "low"})
}

# AppSync API cache: both encryptions default to false.
findings contains _finding(r, sprintf("API cache: %s is not enabled", [a]), {a: object.get(r.values, a, null)}) if {
	some r in input.resources.aws_appsync_api_cache
	some a in ["at_rest_encryption_enabled", "transit_encryption_enabled"]
	not lib.truthy(object.get(r.values, a, null))
	not lib.is_unknown(r, a)
}

# AMI copies and DLM cross-region copies without encryption.
findings contains _finding(r, "AMI copy is not encrypted (encrypted is not true)", {"encrypted": object.get(r.values, "encrypted", null)}) if {
	some r in input.resources.aws_ami_copy
	not lib.truthy(object.get(r.values, "encrypted", null))
	not lib.is_unknown(r, "encrypted")
}

findings contains _finding(r, "cross-region snapshot copies are not encrypted", {"target": object.get(c, "target", null)}) if {
	some r in input.resources.aws_dlm_lifecycle_policy
	c := r.values.policy_details[_].schedule[_].cross_region_copy_rule[_]
	lib.falsy(c.encrypted)
}

findings contains _finding(r, "cross-region event copies are not encrypted", {"target": object.get(c, "target", null)}) if {
	some r in input.resources.aws_dlm_lifecycle_policy
	c := r.values.policy_details[_].action[_].cross_region_copy[_]
	lib.falsy(c.encryption_configuration[0].encrypted)
}

# EMR security configuration (a JSON document).
_emr_encryption(r) := e if {
	c := r.values.configuration
	is_string(c)
	json.is_valid(c)
	doc := json.unmarshal(c)
	is_object(doc)
	e := object.get(doc, "EncryptionConfiguration", {})
	is_object(e)
}

findings contains _finding(r, "EMR security configuration does not encrypt data at rest (local disks, EBS)", {}) if {
	some r in input.resources.aws_emr_security_configuration
	e := _emr_encryption(r)
	not _emr_disks_encrypted(e)
}

_emr_disks_encrypted(e) if {
	e.EnableAtRestEncryption == true
	e.AtRestEncryptionConfiguration.LocalDiskEncryptionConfiguration.EnableEbsEncryption == true
}

findings contains _finding(r, "EMR security configuration does not encrypt data in transit", {}) if {
	some r in input.resources.aws_emr_security_configuration
	e := _emr_encryption(r)
	not e.EnableInTransitEncryption == true
}

# Glue: Data Catalog and security configuration encryption modes.
findings contains _finding(r, "Glue Data Catalog is not encrypted at rest (catalog_encryption_mode = DISABLED)", {}) if {
	some r in input.resources.aws_glue_data_catalog_encryption_settings
	r.values.data_catalog_encryption_settings[0].encryption_at_rest[0].catalog_encryption_mode == "DISABLED"
}

findings contains _finding(r, sprintf("Glue security configuration leaves %s unencrypted", [what]), {}) if {
	some r in input.resources.aws_glue_security_configuration
	c := r.values.encryption_configuration[0]
	some [block, mode, what] in [
		["s3_encryption", "s3_encryption_mode", "S3 data"],
		["cloudwatch_encryption", "cloudwatch_encryption_mode", "CloudWatch logs"],
		["job_bookmarks_encryption", "job_bookmarks_encryption_mode", "job bookmarks"],
	]
	c[block][0][mode] == "DISABLED"
}
