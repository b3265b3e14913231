package arbiter.rules.aws.kms_key_policy_public

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-KMS-003",
	"title": "KMS key policy grants access to everyone",
	"severity": "critical",
	"effect": "deny",
	"category": "encryption",
	"provider": "aws",
	"resource_types": ["aws_kms_key", "aws_kms_key_policy"],
	"rationale": "A key policy statement with Principal \"*\" and no condition restricting the caller (kms:CallerAccount, aws:PrincipalOrgID, kms:ViaService...) lets any AWS account use or administer the key, and so read all data it protects.",
	"remediation": "Name the account root or specific roles in Principal, or add conditions such as kms:CallerAccount and kms:ViaService.",
	"checkov": ["CKV_AWS_33"],
}

findings contains f if {
	some t in metadata.resource_types
	some r in input.resources[t]
	p := r.values.policy
	p != null
	contains(p, "*")
	some st in lib.statements(p)
	st.Effect == "Allow"
	lib.public_principal(st)
	not lib.has_restricting_condition(st)
	f := {
		"address": r.address,
		"message": sprintf("key policy allows %s to any principal (\"*\") without a restricting condition", [concat(", ", sort(st.Action))]),
		"evidence": {"sid": st.Sid, "actions": st.Action},
	}
}
