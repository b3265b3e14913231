package arbiter.rules.aws.rds_iam_auth_disabled

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-RDS-006",
	"title": "RDS IAM database authentication disabled",
	"severity": "low",
	"effect": "info",
	"category": "database",
	"provider": "aws",
	"resource_types": ["aws_db_instance", "aws_rds_cluster"],
	"rationale": "IAM authentication replaces long-lived database passwords with short-lived tokens tied to IAM identities and CloudTrail.",
	"remediation": "Set iam_database_authentication_enabled = true (MySQL, MariaDB, PostgreSQL and Aurora engines) and grant rds-db:connect to the application role.",
	"checkov": ["CKV_AWS_161", "CKV_AWS_162"],
}

findings contains f if {
	some t in metadata.resource_types
	some r in input.resources[t]
	not r.values.iam_database_authentication_enabled == true
	not r.unknown.iam_database_authentication_enabled == true
	engine := lib.lstr(lib.attr(r, "engine"))
	_supported(engine)
	f := {
		"address": r.address,
		"message": "IAM database authentication is disabled",
		"evidence": {"engine": engine},
	}
}

_supported(engine) if engine in {"mysql", "mariadb", "postgres", "aurora", "aurora-mysql", "aurora-postgresql"}
