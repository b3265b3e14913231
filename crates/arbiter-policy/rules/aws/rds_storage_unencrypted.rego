package arbiter.rules.aws.rds_storage_unencrypted

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-RDS-002",
	"title": "Database storage not encrypted (RDS, Aurora, Neptune, DocumentDB)",
	"severity": "high",
	"effect": "warn",
	"category": "encryption",
	"provider": "aws",
	"resource_types": ["aws_db_instance", "aws_rds_cluster", "aws_neptune_cluster", "aws_docdb_cluster"],
	"rationale": "An unencrypted database exposes its data, automated backups and snapshots to anyone who can copy or share a snapshot; encryption cannot be turned on later without a rebuild.",
	"remediation": "Set storage_encrypted = true (optionally kms_key_id) when the database is created; for existing databases restore an encrypted copy of a snapshot.",
	"checkov": ["CKV_AWS_16", "CKV_AWS_96", "CKV_AWS_44", "CKV_AWS_74"],
	"fix": [{"path": "storage_encrypted", "value": true}],
}

findings contains f if {
	some r in input.resources.aws_db_instance
	not r.values.storage_encrypted == true
	not r.unknown.storage_encrypted == true
	lib.not_enabled(lib.attr(r, "storage_encrypted"))
	# Aurora instances inherit the cluster's encryption; replicas inherit their source's.
	not startswith(lib.lstr(lib.attr(r, "engine")), "aurora")
	lib.attr(r, "replicate_source_db") == null
	lib.attr(r, "kms_key_id") == null
	f := {
		"address": r.address,
		"message": "database storage is not encrypted (storage_encrypted is not true)",
		"evidence": {"storage_encrypted": lib.attr(r, "storage_encrypted"), "engine": lib.attr(r, "engine")},
	}
}

findings contains f if {
	some r in input.resources.aws_rds_cluster
	not r.values.storage_encrypted == true
	not r.unknown.storage_encrypted == true
	lib.not_enabled(lib.attr(r, "storage_encrypted"))
	not _serverless_default(r)
	lib.attr(r, "kms_key_id") == null
	f := {
		"address": r.address,
		"message": "database storage is not encrypted (storage_encrypted is not true)",
		"evidence": {"storage_encrypted": lib.attr(r, "storage_encrypted"), "engine_mode": lib.attr(r, "engine_mode")},
	}
}

# Serverless v1 clusters are always encrypted; the attribute defaults to true for them.
_serverless_default(r) if {
	lib.attr(r, "engine_mode") == "serverless"
	lib.attr(r, "storage_encrypted") == null
}

# Neptune and DocumentDB clusters: storage_encrypted defaults to false.
findings contains f if {
	some t in ["aws_neptune_cluster", "aws_docdb_cluster"]
	some r in input.resources[t]
	not r.values.storage_encrypted == true
	not r.unknown.storage_encrypted == true
	lib.not_enabled(lib.attr(r, "storage_encrypted"))
	lib.attr(r, "kms_key_id") == null
	f := {
		"address": r.address,
		"message": "database storage is not encrypted (storage_encrypted is not true)",
		"evidence": {"storage_encrypted": lib.attr(r, "storage_encrypted"), "engine": lib.attr(r, "engine")},
	}
}
