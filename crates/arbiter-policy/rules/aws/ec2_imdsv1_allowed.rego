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
}

findings contains f if {
	some t in metadata.resource_types
	some r in input.resources[t]
	not r.values.metadata_options[0].http_tokens == "required"
	not r.unknown.metadata_options == true
	f := _finding(r, lib.first_block(r, "metadata_options"))
}

# metadata_options present but not requiring tokens
_finding(r, mo) := f if {
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
_finding(r, mo) := {
	"address": r.address,
	"message": "IMDSv1 is allowed (no metadata_options block requiring http_tokens)",
	"evidence": {"metadata_options": lib.attr(r, "metadata_options")},
} if mo == {}

_show(null) := "unset"

_show(s) := s if is_string(s)
