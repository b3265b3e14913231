package arbiter.rules.aws.parameter_group_tls_disabled

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-TLS-002",
	"title": "Database parameter group turns TLS off or makes it optional",
	"severity": "medium",
	"effect": "warn",
	"category": "encryption",
	"provider": "aws",
	"resource_types": ["aws_docdb_cluster_parameter_group", "aws_redshift_parameter_group", "aws_db_parameter_group", "aws_rds_cluster_parameter_group"],
	"rationale": "A parameter group that disables TLS (DocumentDB tls = disabled) or explicitly stops requiring it (Redshift require_ssl = false, RDS/Aurora rds.force_ssl = 0, MySQL require_secure_transport = OFF) lets clients send credentials and data in clear text inside the VPC.",
	"remediation": "DocumentDB: tls = enabled; Redshift: require_ssl = true; PostgreSQL: rds.force_ssl = 1; MySQL/MariaDB: require_secure_transport = ON.",
	"checkov": ["CKV_AWS_90", "CKV_AWS_105", "CKV2_AWS_69"],
	"fix": [
		{"path": "parameter[name=tls].value", "value": "enabled"},
		{"path": "parameter[name=require_ssl].value", "value": "true"},
		{"path": "parameter[name=rds.force_ssl].value", "value": "1"},
		{"path": "parameter[name=require_secure_transport].value", "value": "1"},
	],
}

# [parameter name, values that switch TLS off]
_weak := {
	"tls": {"disabled"},
	"require_ssl": {"false", "0", "off"},
	"rds.force_ssl": {"0", "false", "off"},
	"require_secure_transport": {"off", "0", "false"},
}

findings contains f if {
	some t in metadata.resource_types
	some r in input.resources[t]
	p := r.values.parameter[_]
	name := lib.lstr(object.get(p, "name", ""))
	bad := _weak[name]
	value := lib.lstr(sprintf("%v", [object.get(p, "value", "")]))
	value in bad
	f := {
		"address": r.address,
		"message": sprintf("parameter %s = %s lets clients connect without TLS", [name, value]),
		"evidence": {"parameter": name, "value": value},
	}
}
