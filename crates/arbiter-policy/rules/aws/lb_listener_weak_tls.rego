package arbiter.rules.aws.lb_listener_weak_tls

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-ELB-001",
	"title": "Load balancer listener allows TLS 1.0/1.1",
	"severity": "medium",
	"effect": "warn",
	"category": "encryption",
	"provider": "aws",
	"resource_types": ["aws_lb_listener", "aws_alb_listener"],
	"rationale": "Security policies such as ELBSecurityPolicy-2016-08 (the historical default), -TLS-1-0-2015-04, -TLS-1-1-2017-01 or -FS-2018-06 still negotiate TLS 1.0/1.1 and weak ciphers that are deprecated and fail PCI DSS.",
	"remediation": "Set ssl_policy to ELBSecurityPolicy-TLS13-1-2-2021-06 (or another TLS13-1-2 / TLS-1-2 / FS-1-2 policy).",
	"checkov": ["CKV_AWS_103"],
	"fix": [{"path": "ssl_policy", "value": "ELBSecurityPolicy-TLS13-1-2-2021-06"}],
}

# ssl_policy names that only negotiate TLS 1.2 or newer.
_modern(policy) if {
	some marker in ["-TLS-1-2-", "-TLS13-1-2-", "-TLS13-1-3-", "-FS-1-2-", "-TLS-1-2", "-TLS13-1-3", "-FS-1-2"]
	contains(upper(policy), marker)
}

findings contains f if {
	some t in metadata.resource_types
	some r in input.resources[t]
	r.values.protocol in {"HTTPS", "TLS"}
	not r.unknown.ssl_policy == true
	policy := object.get(r.values, "ssl_policy", null)
	not _modern(lib.str(policy))
	f := {
		"address": r.address,
		"message": sprintf("%s listener uses ssl_policy %s, which allows TLS 1.0/1.1", [r.values.protocol, _show(policy)]),
		"evidence": {"protocol": r.values.protocol, "ssl_policy": policy, "port": object.get(r.values, "port", null)},
	}
}

_show(p) := p if is_string(p)

else := "unset (provider default ELBSecurityPolicy-2016-08)"
