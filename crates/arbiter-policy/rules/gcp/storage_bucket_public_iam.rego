package arbiter.rules.gcp.storage_bucket_public_iam

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-GCP-GCS-001",
	"title": "Cloud Storage bucket readable by allUsers or allAuthenticatedUsers",
	"severity": "critical",
	"effect": "deny",
	"category": "storage",
	"provider": "gcp",
	"resource_types": ["google_storage_bucket_iam_member", "google_storage_bucket_iam_binding", "google_storage_bucket_iam_policy", "google_storage_bucket_access_control", "google_storage_bucket_acl"],
	"rationale": "Granting a role on a bucket to allUsers (anyone on the internet) or allAuthenticatedUsers (any Google account) publishes its objects.",
	"remediation": "Grant roles to specific users, groups or service accounts; enable public_access_prevention = \"enforced\" on the bucket; serve public content through a CDN with signed URLs where needed.",
	"checkov": ["CKV_GCP_28"],
}

_public := {"allUsers", "allAuthenticatedUsers"}

findings contains f if {
	some r in input.resources.google_storage_bucket_iam_member
	member := r.values.member
	member in {"allUsers", "allAuthenticatedUsers"}
	f := _finding(r, lib.str(object.get(r.values, "role", "")), member)
}

findings contains f if {
	some r in input.resources.google_storage_bucket_iam_binding
	member := r.values.members[_]
	member in {"allUsers", "allAuthenticatedUsers"}
	f := _finding(r, lib.str(object.get(r.values, "role", "")), member)
}

findings contains f if {
	some r in input.resources.google_storage_bucket_iam_policy
	p := r.values.policy_data
	is_string(p)
	contains(p, "all")
	b := lib.parse_policy(p).bindings[_]
	member := b.members[_]
	member in _public
	f := _finding(r, lib.str(object.get(b, "role", "")), member)
}

findings contains f if {
	some r in input.resources.google_storage_bucket_access_control
	member := r.values.entity
	member in {"allUsers", "allAuthenticatedUsers"}
	f := _finding(r, lib.str(object.get(r.values, "role", "")), member)
}

findings contains f if {
	some r in input.resources.google_storage_bucket_acl
	entry := r.values.role_entity[_]
	is_string(entry)
	parts := split(entry, ":")
	count(parts) == 2
	parts[1] in _public
	f := _finding(r, parts[0], parts[1])
}

_finding(r, role, member) := {
	"address": r.address,
	"message": sprintf("grants %s on the bucket to %s", [role, member]),
	"evidence": {"role": role, "member": member},
}
