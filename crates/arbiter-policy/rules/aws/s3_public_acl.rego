package arbiter.rules.aws.s3_public_acl

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-S3-001",
	"title": "S3 bucket or object ACL grants public access",
	"severity": "critical",
	"effect": "deny",
	"category": "storage",
	"provider": "aws",
	"resource_types": ["aws_s3_bucket", "aws_s3_bucket_acl", "aws_s3_object", "aws_s3_bucket_object"],
	"rationale": "The canned ACLs public-read, public-read-write and authenticated-read (or grants to the AllUsers / AuthenticatedUsers groups) expose objects to anyone on the internet or any AWS account; public-read-write also lets anyone overwrite data.",
	"remediation": "Set acl = \"private\" (or remove ACLs and use BucketOwnerEnforced object ownership), and serve public content through CloudFront with origin access control instead.",
	"checkov": ["CKV_AWS_20", "CKV_AWS_57", "CKV2_AWS_43", "CKV_AWS_375"],
	"joins": true,
	"fix": [
		{"path": "acl", "value": "private", "types": ["aws_s3_bucket", "aws_s3_bucket_acl", "aws_s3_object", "aws_s3_bucket_object"]},
		{"path": "grant", "value": [], "types": ["aws_s3_bucket"]},
		{"path": "access_control_policy", "value": [], "types": ["aws_s3_bucket_acl"]},
	],
}

_public_acls := {
	"public-read": "read",
	"public-read-write": "read and write",
	"authenticated-read": "read by any AWS account",
}

_public_groups := {
	"http://acs.amazonaws.com/groups/global/AllUsers": "everyone",
	"http://acs.amazonaws.com/groups/global/AuthenticatedUsers": "any AWS account",
}

findings contains f if {
	some t in metadata.resource_types
	some r in input.resources[t]
	r.values.acl in {"public-read", "public-read-write", "authenticated-read"}
	acl := r.values.acl
	access := _public_acls[acl]
	f := {
		"address": r.address,
		"message": sprintf("canned ACL %s grants public %s access", [acl, access]),
		"evidence": {"acl": acl},
	}
}

# Explicit grants: aws_s3_bucket_acl access_control_policy and legacy aws_s3_bucket grant blocks.
findings contains f if {
	some r in input.resources.aws_s3_bucket_acl
	g := r.values.access_control_policy[_].grant[_]
	uri := g.grantee[_].uri
	uri in {"http://acs.amazonaws.com/groups/global/AllUsers", "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"}
	f := _grant_finding(r, uri, lib.str(object.get(g, "permission", "")))
}

findings contains f if {
	some r in input.resources.aws_s3_bucket
	g := r.values.grant[_]
	uri := g.uri
	uri in {"http://acs.amazonaws.com/groups/global/AllUsers", "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"}
	f := _grant_finding(r, uri, concat("/", lib.str_array(object.get(g, "permissions", []))))
}

_grant_finding(r, uri, permission) := {
	"address": r.address,
	"message": sprintf("ACL grants %s to %s", [permission, _public_groups[uri]]),
	"evidence": {"grantee_uri": uri, "permission": permission},
}

# Checkov attributes a public aws_s3_bucket_acl to its bucket: report the bucket too when it
# is in the change (same bucket name, or the module "this" pattern: same address with the
# bucket type). Buckets are only scanned when a public ACL resource exists.
_public_acl_resources := [acl |
	some acl in input.resources.aws_s3_bucket_acl
	acl.values.acl in {"public-read", "public-read-write", "authenticated-read"}
]

_linked_names := {acl.values.bucket | some acl in _public_acl_resources; acl.values.bucket != null}

_linked_addresses := {replace(acl.address, "aws_s3_bucket_acl.", "aws_s3_bucket.") | some acl in _public_acl_resources}

findings contains f if {
	count(_public_acl_resources) > 0
	names := _linked_names
	some b in input.resources.aws_s3_bucket
	b.values.bucket in names
	some acl in _public_acl_resources
	acl.values.bucket == b.values.bucket
	f := _bucket_finding(b, acl)
}

findings contains f if {
	count(_public_acl_resources) > 0
	addresses := _linked_addresses
	some b in input.resources.aws_s3_bucket
	b.address in addresses
	some acl in _public_acl_resources
	b.address == replace(acl.address, "aws_s3_bucket_acl.", "aws_s3_bucket.")
	f := _bucket_finding(b, acl)
}

_bucket_finding(b, acl) := {
	"address": b.address,
	"message": sprintf("bucket is made public by %s (canned ACL %s)", [acl.address, acl.values.acl]),
	"evidence": {"acl_resource": acl.address, "acl": acl.values.acl},
}
