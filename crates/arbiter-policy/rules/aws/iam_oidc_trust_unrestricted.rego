package arbiter.rules.aws.iam_oidc_trust_unrestricted

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-IAM-008",
	"title": "GitHub Actions OIDC trust without a subject restriction",
	"severity": "high",
	"effect": "escalate",
	"category": "iam",
	"provider": "aws",
	"resource_types": ["aws_iam_role", "data.aws_iam_policy_document"],
	"rationale": "A role trusting token.actions.githubusercontent.com for sts:AssumeRoleWithWebIdentity without a condition on the token's sub claim (or with a sub of \"*\") can be assumed by a workflow in any GitHub repository.",
	"remediation": "Add a StringEquals/StringLike condition on token.actions.githubusercontent.com:sub naming your organisation and repository (e.g. repo:acme/app:ref:refs/heads/main).",
	"checkov": ["CKV_AWS_358", "CKV_AWS_393"],
}

_github := "token.actions.githubusercontent.com"

_trust_statements(r) := lib.statements(r.values.assume_role_policy) if {
	r.type == "aws_iam_role"
	p := r.values.assume_role_policy
	p != null
	contains(p, "token.actions.githubusercontent.com")
}

_trust_statements(r) := lib.policy_document_statements(r) if r.type == "aws_iam_policy_document"

_github_trust(st) if {
	st.Effect == "Allow"
	some id in object.get(st.Principal, "Federated", [])
	contains(id, _github)
	some a in st.Action
	lib.action_matches(a, "sts:AssumeRoleWithWebIdentity")
}

# The sub-claim values the statement restricts to (both policy JSON and document-block forms).
_sub_values(st) := {v |
	some _, kv in st.Condition
	is_object(kv)
	some k, vals in kv
	lower(k) == concat("", [_github, ":sub"])
	some v in lib.str_array(vals)
} | {v |
	some k, vals in st.Condition
	endswith(lower(k), concat("", ["/", _github, ":sub"]))
	some v in lib.str_array(vals)
}

findings contains f if {
	some t in ["aws_iam_role", "data.aws_iam_policy_document"]
	some r in input.resources[t]
	some st in _trust_statements(r)
	_github_trust(st)
	count(_sub_values(st)) == 0
	f := {
		"address": r.address,
		"message": "trusts GitHub Actions OIDC tokens from any repository (no condition on the sub claim)",
		"evidence": {"sid": st.Sid},
	}
}

findings contains f if {
	some t in ["aws_iam_role", "data.aws_iam_policy_document"]
	some r in input.resources[t]
	some st in _trust_statements(r)
	_github_trust(st)
	some v in _sub_values(st)
	_too_broad(v)
	f := {
		"address": r.address,
		"message": sprintf("trusts GitHub Actions OIDC tokens with an overly broad sub claim %q", [v]),
		"evidence": {"sid": st.Sid, "sub": v},
	}
}

_too_broad(v) if v in {"*", "repo:*", "repo:*/*", "repo:*:*"}

_too_broad(v) if startswith(v, "*")
