package arbiter.rules.aws.iam_trust_external_account

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-IAM-901",
	"title": "IAM role trusts another AWS account",
	"severity": "medium",
	"effect": "warn",
	"category": "iam",
	"provider": "aws",
	"resource_types": ["aws_iam_role"],
	"rationale": "A trust policy naming a principal of another AWS account lets whoever controls that account (a vendor, a partner, or an attacker who compromised it) assume the role and use its permissions. Such a grant deserves a person's look, with an sts:ExternalId condition for third parties.",
	"remediation": "Trust only principals of your own account or organization (aws:PrincipalOrgID); for a third party, name its specific role and require sts:ExternalId.",
	"checkov": [],
}

# The role's own account comes from its ARN, which is known for existing roles
# (updates); a new role's ARN is known only at apply, so creates are not judged.
findings contains f if {
	some r in input.resources.aws_iam_role
	r.values.assume_role_policy != null
	p := r.values.assume_role_policy
	is_string(p)
	# only documents with an AWS principal can name another account
	contains(p, `"AWS"`)
	own := _account(lib.str(r.values.arn))
	own != ""
	some st in lib.statements(p)
	st.Effect == "Allow"
	some id in object.get(st.Principal, "AWS", [])
	other := _account(id)
	other != ""
	other != own
	f := {
		"address": r.address,
		"message": sprintf("trust policy lets account %s assume the role (role is in account %s)", [other, own]),
		"evidence": {"principal": id, "sid": st.Sid, "external_id_condition": _has_external_id(st)},
	}
}

# _account(s): the 12-digit account of an IAM ARN or a bare account id, "" otherwise.
_account(s) := a if {
	startswith(s, "arn:")
	parts := split(s, ":")
	count(parts) >= 5
	a := parts[4]
	_is_account(a)
} else := s if _is_account(s)

else := ""

_is_account(a) if {
	count(a) == 12
	trim(a, "0123456789") == ""
}

_has_external_id(st) := true if {
	some _, kv in st.Condition
	is_object(kv)
	some k, _ in kv
	lower(k) == "sts:externalid"
} else := false
