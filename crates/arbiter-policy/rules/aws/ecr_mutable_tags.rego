package arbiter.rules.aws.ecr_mutable_tags

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-ECR-002",
	"title": "ECR repository allows tags to be overwritten",
	"severity": "low",
	"effect": "info",
	"category": "compute",
	"provider": "aws",
	"resource_types": ["aws_ecr_repository"],
	"rationale": "With mutable tags, the image behind a tag such as v1.2.3 can be replaced silently, so what runs may not be what was reviewed or scanned.",
	"remediation": "Set image_tag_mutability = \"IMMUTABLE\" and deploy by digest.",
	"checkov": ["CKV_AWS_51"],
}

findings contains f if {
	some r in input.resources.aws_ecr_repository
	not r.values.image_tag_mutability in {"IMMUTABLE", "IMMUTABLE_WITH_EXCLUSION"}
	not r.unknown.image_tag_mutability == true
	f := {
		"address": r.address,
		"message": "image tags are mutable",
		"evidence": {"image_tag_mutability": object.get(r.values, "image_tag_mutability", null)},
	}
}
