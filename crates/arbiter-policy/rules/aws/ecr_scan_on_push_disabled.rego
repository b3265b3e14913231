package arbiter.rules.aws.ecr_scan_on_push_disabled

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-ECR-001",
	"title": "ECR image scanning on push disabled",
	"severity": "low",
	"effect": "info",
	"category": "compute",
	"provider": "aws",
	"resource_types": ["aws_ecr_repository"],
	"rationale": "Scanning images when they are pushed surfaces known vulnerabilities before the image is deployed.",
	"remediation": "Add image_scanning_configuration { scan_on_push = true } (or enable enhanced scanning in the registry scanning configuration).",
	"checkov": ["CKV_AWS_163"],
}

findings contains f if {
	some r in input.resources.aws_ecr_repository
	not r.values.image_scanning_configuration[0].scan_on_push == true
	not r.unknown.image_scanning_configuration == true
	f := {
		"address": r.address,
		"message": "images are not scanned on push",
		"evidence": {},
	}
}
