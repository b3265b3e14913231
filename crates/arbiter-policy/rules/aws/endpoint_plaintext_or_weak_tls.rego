package arbiter.rules.aws.endpoint_plaintext_or_weak_tls

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-TLS-001",
	"title": "Endpoint accepts plaintext or TLS below 1.2 (API Gateway, Transfer Family, CloudFront origins, DMS)",
	"severity": "medium",
	"effect": "warn",
	"category": "encryption",
	"provider": "aws",
	"resource_types": ["aws_api_gateway_domain_name", "aws_transfer_server", "aws_cloudfront_distribution", "aws_dms_endpoint"],
	"rationale": "Plain FTP, TLS 1.0 custom domains, and CloudFront talking HTTP (or SSLv3/TLS 1.0) to its origins expose credentials and data on the wire or to downgrade attacks; a DMS endpoint without SSL moves a database's content in clear text.",
	"remediation": "API Gateway: security_policy = \"TLS_1_2\"; Transfer Family: protocols = [\"SFTP\"] (or FTPS); CloudFront: origin_protocol_policy = \"https-only\" with origin_ssl_protocols = [\"TLSv1.2\"]; DMS: ssl_mode = \"require\" or stronger.",
	"checkov": ["CKV_AWS_206", "CKV_AWS_357", "CKV2_AWS_72", "CKV2_AWS_54", "CKV2_AWS_49"],
	"fix": [
		{"path": "security_policy", "value": "TLS_1_2", "types": ["aws_api_gateway_domain_name"]},
		{"path": "protocols", "remove": "FTP", "types": ["aws_transfer_server"]},
		{"path": "origin[*].custom_origin_config[*].origin_protocol_policy", "value": "https-only", "types": ["aws_cloudfront_distribution"]},
		{"path": "origin[*].custom_origin_config[*].origin_ssl_protocols", "value": ["TLSv1.2"], "types": ["aws_cloudfront_distribution"]},
		{"path": "ssl_mode", "value": "require", "types": ["aws_dms_endpoint"]},
	],
}

findings contains f if {
	some r in input.resources.aws_api_gateway_domain_name
	r.values.security_policy == "TLS_1_0"
	f := {
		"address": r.address,
		"message": "custom domain accepts TLS 1.0 (security_policy = TLS_1_0)",
		"evidence": {"security_policy": "TLS_1_0"},
	}
}

findings contains f if {
	some r in input.resources.aws_transfer_server
	"FTP" in lib.str_array(r.values.protocols)
	f := {
		"address": r.address,
		"message": "server accepts plain FTP (credentials and files in clear text)",
		"evidence": {"protocols": r.values.protocols},
	}
}

findings contains f if {
	some r in input.resources.aws_cloudfront_distribution
	o := r.values.origin[_]
	c := o.custom_origin_config[0]
	c.origin_protocol_policy == "http-only"
	f := {
		"address": r.address,
		"message": sprintf("origin %s is reached over plain HTTP (origin_protocol_policy = http-only)", [lib.str(object.get(o, "origin_id", "?"))]),
		"evidence": {"origin_id": object.get(o, "origin_id", null), "domain_name": object.get(o, "domain_name", null)},
	}
}

findings contains f if {
	some r in input.resources.aws_cloudfront_distribution
	o := r.values.origin[_]
	c := o.custom_origin_config[0]
	not c.origin_protocol_policy == "http-only"
	weak := {p | some p in lib.str_array(c.origin_ssl_protocols); p in {"SSLv3", "TLSv1", "TLSv1.1"}}
	count(weak) > 0
	f := {
		"address": r.address,
		"message": sprintf("origin %s may be reached with %s", [lib.str(object.get(o, "origin_id", "?")), concat(", ", sort([p | some p in weak]))]),
		"evidence": {"origin_id": object.get(o, "origin_id", null), "origin_ssl_protocols": c.origin_ssl_protocols},
	}
}

# DMS: ssl_mode none (the default) for endpoints that support SSL; low, since most
# replication runs inside the VPC.
findings contains f if {
	some r in input.resources.aws_dms_endpoint
	object.get(r.values, "ssl_mode", null) in {"none", null}
	not r.unknown.ssl_mode == true
	not object.get(r.values, "engine_name", "") in {"s3", "dynamodb", "kinesis", "kafka", "opensearch", "elasticsearch", "neptune", "redshift", "redshift-serverless"}
	f := {
		"address": r.address,
		"message": "endpoint connects without SSL (ssl_mode = none)",
		"evidence": {"ssl_mode": object.get(r.values, "ssl_mode", null), "engine_name": object.get(r.values, "engine_name", null)},
		"severity": "low",
	}
}
