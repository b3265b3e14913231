package arbiter.rules.aws.iam_password_policy_weak

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-IAM-011",
	"title": "Weak IAM account password policy",
	"severity": "low",
	"effect": "warn",
	"category": "iam",
	"provider": "aws",
	"resource_types": ["aws_iam_account_password_policy"],
	"rationale": "Short or simple console passwords without reuse prevention are easy to guess or spray; CIS asks for at least 14 characters, all character classes and reuse prevention of 24. A new policy below that is still no weaker than the AWS default (low); weakening an existing policy is medium.",
	"remediation": "Set minimum_password_length >= 14, require_lowercase_characters, require_uppercase_characters, require_numbers and require_symbols = true, and password_reuse_prevention >= 24.",
	"checkov": ["CKV_AWS_9", "CKV_AWS_10", "CKV_AWS_11", "CKV_AWS_12", "CKV_AWS_13", "CKV_AWS_14", "CKV_AWS_15"],
	"fix": [
		{"path": "minimum_password_length", "value": 14},
		{"path": "require_lowercase_characters", "value": true},
		{"path": "require_uppercase_characters", "value": true},
		{"path": "require_numbers", "value": true},
		{"path": "require_symbols", "value": true},
		{"path": "password_reuse_prevention", "value": 24},
		{"path": "max_password_age", "value": 90},
	],
}

findings contains f if {
	some r in input.resources.aws_iam_account_password_policy
	not lib.is_unknown(r, "minimum_password_length")
	n := object.get(r.values, "minimum_password_length", null)
	_short(n)
	f := {
		"address": r.address,
		"message": sprintf("minimum_password_length is %v (less than 14)", [_show(n)]),
		"evidence": {"minimum_password_length": n},
		"severity": lib.on_update(r, "low", "medium"),
	}
}

findings contains f if {
	some r in input.resources.aws_iam_account_password_policy
	some a in ["require_lowercase_characters", "require_uppercase_characters", "require_numbers", "require_symbols"]
	not lib.is_unknown(r, a)
	lib.not_enabled(object.get(r.values, a, null))
	f := {
		"address": r.address,
		"message": sprintf("%s is not enabled", [a]),
		"evidence": {a: object.get(r.values, a, null)},
		"severity": lib.on_update(r, "low", "medium"),
	}
}

findings contains f if {
	some r in input.resources.aws_iam_account_password_policy
	not lib.is_unknown(r, "password_reuse_prevention")
	n := object.get(r.values, "password_reuse_prevention", null)
	_no_reuse_prevention(n)
	f := {
		"address": r.address,
		"message": "password_reuse_prevention is not set",
		"evidence": {"password_reuse_prevention": n},
		"severity": lib.on_update(r, "low", "medium"),
	}
}

_short(null) := true

_short(n) if lib.num(n) < 14

_no_reuse_prevention(null) := true

_no_reuse_prevention(n) if lib.num(n) < 1

_show(null) := "unset (default 6)"

_show(n) := n if n != null
