package arbiter.rules.aws.ec2_imdsv1_allowed

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-EC2-001",
	"title": "Instance metadata service v1 (IMDSv1) allowed",
	"severity": "medium",
	"effect": "warn",
	"category": "compute",
	"provider": "aws",
	"resource_types": ["aws_instance", "aws_launch_template", "aws_launch_configuration"],
	"rationale": "IMDSv1 answers unauthenticated GET requests, so any SSRF bug in an application on the instance can read the instance role's credentials. IMDSv2 (http_tokens = \"required\") blocks that path.",
	"remediation": "Add metadata_options { http_tokens = \"required\" } (or http_endpoint = \"disabled\" if the metadata service is not needed).",
	"checkov": ["CKV_AWS_79"],
	"fix": [{"path": "metadata_options[0].http_tokens", "value": "required"}],
}

findings contains f if {
	some t in metadata.resource_types
	some r in input.resources[t]
	not r.values.metadata_options[0].http_tokens == "required"
	f := _finding(r)
}

# metadata_options present but not requiring tokens
_finding(r) := f if {
	not r.unknown.metadata_options == true
	mo := lib.first_block(r, "metadata_options")
	mo != {}
	not lib.lstr(lib.get(mo, "http_endpoint", "")) == "disabled"
	not lib.is_unknown_path(r, ["metadata_options", 0, "http_tokens"])
	tokens := lib.get(mo, "http_tokens", null)
	f := {
		"address": r.address,
		"message": sprintf("IMDSv1 is allowed (metadata_options.http_tokens = %s)", [_show(tokens)]),
		"evidence": {"http_tokens": tokens, "http_endpoint": lib.get(mo, "http_endpoint", null)},
	}
}

# No metadata_options block at all (and not computed at apply): the instance keeps the
# AMI/account default, which allows IMDSv1 unless the AMI opts in to IMDSv2 - as Checkov reads it.
_finding(r) := {
	"address": r.address,
	"message": "IMDSv1 is allowed (no metadata_options block requiring http_tokens)",
	"evidence": {"metadata_options": lib.attr(r, "metadata_options")},
	"severity": "low",
} if {
	not r.unknown.metadata_options == true
	lib.first_block(r, "metadata_options") == {}
}

# metadata_options left to the provider (computed, unknown in the plan): the AMI/account
# default applies, which allows IMDSv1 for most AMIs. Reported as info only: the value is
# not known, but Checkov counts the missing block as a failure and a person may want to know.
_finding(r) := {
	"address": r.address,
	"message": "IMDSv1 may be allowed (metadata_options not configured; the AMI or account default applies)",
	"evidence": {},
	"effect": "info",
	"severity": "low",
} if r.unknown.metadata_options == true

_show(null) := "unset"

_show(s) := s if is_string(s)
