package arbiter.rules.aws.cloudfront_viewer_protocol_insecure

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-CF-001",
	"title": "CloudFront serves content over plain HTTP",
	"severity": "medium",
	"effect": "warn",
	"category": "encryption",
	"provider": "aws",
	"resource_types": ["aws_cloudfront_distribution"],
	"rationale": "viewer_protocol_policy = \"allow-all\" serves the distribution over unencrypted HTTP, exposing sessions and content to interception and tampering.",
	"remediation": "Set viewer_protocol_policy = \"redirect-to-https\" (or \"https-only\") in default_cache_behavior and every ordered_cache_behavior.",
	"checkov": ["CKV_AWS_34"],
	"fix": [
		{"path": "default_cache_behavior[0].viewer_protocol_policy", "value": "redirect-to-https"},
		{"path": "ordered_cache_behavior[*].viewer_protocol_policy", "value": "redirect-to-https"},
	],
}

findings contains f if {
	some r in input.resources.aws_cloudfront_distribution
	some kind in ["default_cache_behavior", "ordered_cache_behavior"]
	b := r.values[kind][_]
	b.viewer_protocol_policy == "allow-all"
	f := {
		"address": r.address,
		"message": sprintf("%s allows plain HTTP (viewer_protocol_policy = allow-all)%s", [kind, _path(b)]),
		"evidence": {"behavior": kind, "path_pattern": object.get(b, "path_pattern", null)},
	}
}

_path(b) := sprintf(" for %s", [b.path_pattern]) if is_string(b.path_pattern)

else := ""
