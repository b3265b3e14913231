package arbiter.rules.aws.rds_force_ssl_disabled

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-RDS-901",
	"title": "Database parameter group lets clients connect without TLS",
	"severity": "medium",
	"effect": "warn",
	"category": "encryption",
	"provider": "aws",
	"resource_types": ["aws_db_parameter_group", "aws_rds_cluster_parameter_group"],
	"rationale": "rds.force_ssl = 0 (PostgreSQL, SQL Server) or require_secure_transport = OFF (MySQL, MariaDB) lets clients send credentials and data in clear text across the VPC; storage encryption does not protect data in transit.",
	"remediation": "Set the parameter rds.force_ssl = 1 (PostgreSQL/SQL Server) or require_secure_transport = ON (MySQL/MariaDB) and make clients use sslmode=verify-full.",
	"checkov": ["CKV2_AWS_69"],
	"fix": [
		{"path": "parameter[name=rds.force_ssl].value", "value": "1"},
		{"path": "parameter[name=require_secure_transport].value", "value": "1"},
	],
}

# Only an explicit parameter value is judged: the engine default depends on the
# engine and version (rds.force_ssl defaults to 1 from PostgreSQL 15 on RDS).
_plaintext := {"rds.force_ssl": {"0", "false", "off"}, "require_secure_transport": {"0", "off", "false"}}

findings contains f if {
	some t in metadata.resource_types
	some r in input.resources[t]
	p := r.values.parameter[_]
	p.name in {"rds.force_ssl", "require_secure_transport"}
	name := p.name
	value := lib.lstr(lib.get(p, "value", ""))
	value in _plaintext[name]
	f := {
		"address": r.address,
		"message": sprintf("parameter %s = %s allows unencrypted client connections", [name, value]),
		"evidence": {"parameter": name, "value": lib.get(p, "value", null), "family": object.get(r.values, "family", null)},
	}
}
