package arbiter.rules.aws.lb_listener_http_no_redirect

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-ELB-002",
	"title": "Plain HTTP listener without redirect to HTTPS",
	"severity": "low",
	"effect": "info",
	"category": "encryption",
	"provider": "aws",
	"resource_types": ["aws_lb_listener", "aws_alb_listener"],
	"rationale": "An HTTP listener that forwards traffic instead of redirecting to HTTPS lets credentials and cookies cross the network in clear text.",
	"remediation": "Give the HTTP listener a default_action { type = \"redirect\" redirect { protocol = \"HTTPS\" port = \"443\" status_code = \"HTTP_301\" } }.",
	"checkov": ["CKV_AWS_2", "CKV2_AWS_20"],
}

findings contains f if {
	some t in metadata.resource_types
	some r in input.resources[t]
	r.values.protocol == "HTTP"
	not _redirects_to_https(r)
	not r.unknown.default_action == true
	f := {
		"address": r.address,
		"message": "HTTP listener does not redirect to HTTPS",
		"evidence": {"port": object.get(r.values, "port", null)},
	}
}

_redirects_to_https(r) if r.values.default_action[_].redirect[_].protocol == "HTTPS"

# a fixed-response (e.g. 404) or an explicit deny is not serving content in clear either
_redirects_to_https(r) if r.values.default_action[_].type == "fixed-response"
