package arbiter.rules.aws.ec2_metadata_hop_limit

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-EC2-004",
	"title": "Instance metadata reachable beyond the instance (hop limit above 1)",
	"severity": "low",
	"effect": "warn",
	"category": "compute",
	"provider": "aws",
	"resource_types": ["aws_instance", "aws_launch_template"],
	"rationale": "With http_put_response_hop_limit above 1, IMDSv2 tokens can be obtained from one network hop away: containers on the instance (and anything they proxy) can read the instance role's credentials. Needed by some container setups, which is why this is low.",
	"remediation": "Keep http_put_response_hop_limit = 1 unless containers on the host must reach instance metadata; give pods and tasks their own roles (IRSA, EKS Pod Identity, ECS task roles) instead.",
	"checkov": ["CKV_AWS_341"],
	"fix": [{"path": "metadata_options[0].http_put_response_hop_limit", "value": 1}],
}

findings contains f if {
	some t in ["aws_instance", "aws_launch_template"]
	some r in input.resources[t]
	mo := r.values.metadata_options[0]
	n := lib.num(mo.http_put_response_hop_limit)
	n > 1
	not lib.lstr(object.get(mo, "http_endpoint", "")) == "disabled"
	f := {
		"address": r.address,
		"message": sprintf("instance metadata answers up to %d network hops away (http_put_response_hop_limit)", [n]),
		"evidence": {"http_put_response_hop_limit": n},
	}
}
