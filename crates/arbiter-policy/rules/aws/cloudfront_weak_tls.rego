package arbiter.rules.aws.cloudfront_weak_tls

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-CF-002",
	"title": "CloudFront viewer TLS below 1.2",
	"severity": "medium",
	"effect": "warn",
	"category": "encryption",
	"provider": "aws",
	"resource_types": ["aws_cloudfront_distribution"],
	"rationale": "minimum_protocol_version values SSLv3, TLSv1, TLSv1_2016 and TLSv1.1_2016 let viewers negotiate deprecated protocols. The default *.cloudfront.net certificate always allows TLSv1 (reported as info).",
	"remediation": "Use a custom ACM certificate with minimum_protocol_version = \"TLSv1.2_2021\" and ssl_support_method = \"sni-only\".",
	"checkov": ["CKV_AWS_174"],
}

findings contains f if {
	some r in input.resources.aws_cloudfront_distribution
	vc := r.values.viewer_certificate[0]
	not vc.cloudfront_default_certificate == true
	v := vc.minimum_protocol_version
	v in {"SSLv3", "TLSv1", "TLSv1_2016", "TLSv1.1_2016"}
	f := {
		"address": r.address,
		"message": sprintf("viewer minimum_protocol_version is %s (below TLS 1.2)", [v]),
		"evidence": {"minimum_protocol_version": v},
	}
}

findings contains f if {
	some r in input.resources.aws_cloudfront_distribution
	r.values.viewer_certificate[0].cloudfront_default_certificate == true
	f := {
		"address": r.address,
		"message": "uses the default CloudFront certificate, which accepts TLSv1",
		"evidence": {"cloudfront_default_certificate": true},
		"effect": "info",
		"severity": "low",
	}
}
