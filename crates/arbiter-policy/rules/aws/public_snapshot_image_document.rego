package arbiter.rules.aws.public_snapshot_image_document

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-SHARE-001",
	"title": "Snapshot, image or document shared with every AWS account",
	"severity": "critical",
	"effect": "deny",
	"category": "storage",
	"provider": "aws",
	"resource_types": ["aws_db_snapshot", "aws_db_cluster_snapshot", "aws_ami_launch_permission", "aws_ssm_document"],
	"rationale": "Sharing with \"all\" makes the resource public: anyone with an AWS account can restore a public database snapshot and read every row; a public AMI or SSM document exposes whatever is baked into it (keys, configuration, internal endpoints).",
	"remediation": "Share with the specific account IDs that need it (shared_accounts, account_id, permissions.account_ids), or through AWS RAM within the organization; never with \"all\".",
	"checkov": ["CKV_AWS_302", "CKV_AWS_205", "CKV_AWS_303"],
}

findings contains f if {
	some t in ["aws_db_snapshot", "aws_db_cluster_snapshot"]
	some r in input.resources[t]
	some a in lib.str_array(r.values.shared_accounts)
	lower(a) == "all"
	f := {
		"address": r.address,
		"message": "database snapshot is shared with every AWS account (shared_accounts includes \"all\")",
		"evidence": {"shared_accounts": r.values.shared_accounts},
	}
}

findings contains f if {
	some r in input.resources.aws_ami_launch_permission
	lib.lstr(r.values.group) == "all"
	f := {
		"address": r.address,
		"message": "AMI launch permission is granted to every AWS account (group = \"all\")",
		"evidence": {"group": r.values.group},
		"severity": "high",
		"effect": "escalate",
	}
}

findings contains f if {
	some r in input.resources.aws_ssm_document
	p := r.values.permissions
	is_object(p)
	some a in split(lib.str(object.get(p, "account_ids", "")), ",")
	lower(trim_space(a)) == "all"
	f := {
		"address": r.address,
		"message": "SSM document is shared with every AWS account (permissions.account_ids = \"All\")",
		"evidence": {"permissions": p},
		"severity": "high",
		"effect": "escalate",
	}
}
