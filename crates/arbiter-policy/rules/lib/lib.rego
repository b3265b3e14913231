# Shared helpers for the built-in rule pack.
#
# Every helper is total on arbitrary JSON: it never raises a builtin type error
# (regorus runs with strict builtin errors), it simply does not hold, or returns
# an empty/neutral value, when its argument has an unexpected shape. Nothing here
# walks the whole input: helpers only look at the values they are given.
package arbiter.lib

import rego.v1

# ---------------------------------------------------------------------------
# Generic values
# ---------------------------------------------------------------------------

# truthy(x): x is boolean true or a string that Terraform would coerce to true.
truthy(x) if x == true

truthy(x) if {
	is_string(x)
	lower(x) in {"true", "1", "yes", "on", "enabled"}
}

# falsy(x): x is explicitly false (boolean or string); null/absent is NOT falsy.
falsy(x) if x == false

falsy(x) if {
	is_string(x)
	lower(x) in {"false", "0", "no", "off", "disabled"}
}

# not_enabled(x): false, null or missing (callers pass object.get(..., null)).
not_enabled(x) if falsy(x)

not_enabled(null) := true

# as_array(x): arrays as they are, null as [], anything else wrapped.
as_array(x) := x if is_array(x)

else := [] if x == null

else := [x]

# str_array(x): the strings of x (a string or an array), everything else dropped.
str_array(x) := [x] if is_string(x)

else := [s | some s in x; is_string(s)] if is_array(x)

else := []

# str(x): x if it is a string, "" otherwise.
str(x) := x if is_string(x)

else := ""

# lstr(x): lower-cased str(x).
lstr(x) := lower(x) if is_string(x)

else := ""

# num(x): x as a number (numbers, and strings holding an integer), undefined otherwise.
num(x) := x if is_number(x)

num(x) := to_number(x) if {
	is_string(x)
	_is_int_string(x)
}

_is_int_string(s) if {
	t := trim_left(s, "-")
	t != ""
	trim(t, "0123456789") == ""
}

# attr(r, name): the known value of attribute name in resource view r (null when absent).
attr(r, name) := object.get(r.values, name, null)

# blocks(r, name): the nested blocks of attribute name (a list of objects, [] when absent).
blocks(r, name) := [b | some b in as_array(object.get(r.values, name, [])); is_object(b)]

# first_block(r, name): the first nested block of attribute name, {} when absent.
first_block(r, name) := b if {
	bs := blocks(r, name)
	count(bs) > 0
	b := bs[0]
} else := {}

# block_list(x): the objects of a nested-block value x (list, single object or null).
block_list(x) := [b | some b in as_array(x); is_object(b)]

# get(obj, key, dflt): object.get that tolerates a non-object obj.
get(obj, key, dflt) := object.get(obj, key, dflt) if is_object(obj)

else := dflt

# ---------------------------------------------------------------------------
# Unknown values (Terraform's after_unknown mask)
# ---------------------------------------------------------------------------

# is_unknown(r, name): top-level attribute name is not known until apply.
is_unknown(r, name) if r.unknown[name] == true

# is_unknown_path(r, path): the value at path (e.g. ["vpc_config", 0, "public_access_cidrs"])
# or any of its ancestors is not known until apply.
is_unknown_path(r, path) if {
	some n in numbers.range(1, count(path))
	object.get(r.unknown, array.slice(path, 0, n), false) == true
}

# known(r, name): attribute name is not marked unknown.
known(r, name) if not is_unknown(r, name)

# ---------------------------------------------------------------------------
# Stack context
# ---------------------------------------------------------------------------

environment := e if {
	e := input.stack.environment
	is_string(e)
} else := ""

is_prod if environment == "prod"

# by_env(prod_value, other_value): prod_value on prod stacks, other_value elsewhere.
by_env(prod_value, other_value) := prod_value if is_prod

else := other_value

# ---------------------------------------------------------------------------
# Networks
# ---------------------------------------------------------------------------

world_cidrs := {"0.0.0.0/0", "::/0", "::0/0", "0000:0000:0000:0000:0000:0000:0000:0000/0"}

# is_world_cidr(c): c is the whole IPv4 or IPv6 internet.
is_world_cidr(c) if {
	is_string(c)
	trim_space(c) in world_cidrs
}

# world_cidrs_of(values...): the world CIDRs among a list of CIDR lists/strings.
world_cidrs_in(xs) := [c | some x in xs; some c in str_array(x); is_world_cidr(c)]

# is_internet_source(s): Azure/GCP style "anywhere" source (*, Internet, Any, 0.0.0.0/0, ::/0, 0.0.0.0).
is_internet_source(s) if is_world_cidr(s)

is_internet_source(s) if {
	is_string(s)
	lower(trim_space(s)) in {"*", "internet", "any", "0.0.0.0", "0.0.0.0/0"}
}

# is_all_protocol(p): the protocol value means "all protocols" (-1 / all), which
# also means all ports.
is_all_protocol(p) if {
	is_string(p)
	lower(trim_space(p)) in {"-1", "all", "*"}
}

is_all_protocol(-1) := true

# is_port_protocol(p): a protocol that has ports (tcp/udp/sctp, by name or number).
is_port_protocol(p) if {
	is_string(p)
	lower(trim_space(p)) in {"tcp", "udp", "6", "17", "sctp", "132"}
}

is_port_protocol(p) if p in {6, 17, 132}

# port_range_includes(from, to, port): port lies within [from, to]. As Checkov does,
# 0-0 (and -1/-1) are read as "all ports".
port_range_includes(from, to, port) if {
	f := num(from)
	t := num(to)
	f <= port
	port <= t
}

port_range_includes(from, to, _) if {
	num(from) == 0
	num(to) == 0
}

port_range_includes(from, to, _) if {
	num(from) == -1
	num(to) == -1
}

# rule_covers_port(protocol, from, to, port): an AWS-style rule admits TCP/UDP traffic to port.
rule_covers_port(protocol, _, _, _) if is_all_protocol(protocol)

rule_covers_port(protocol, from, to, port) if {
	is_port_protocol(protocol)
	port_range_includes(from, to, port)
}

# port_spec_includes(spec, port): Azure/GCP port spec ("22", "20-25", "*", 22) includes port.
port_spec_includes(spec, _) if {
	is_string(spec)
	trim_space(spec) in {"*", "0-65535", "1-65535"}
}

port_spec_includes(spec, port) if num(spec) == port

port_spec_includes(spec, port) if {
	is_string(spec)
	parts := split(trim_space(spec), "-")
	count(parts) == 2
	num(parts[0]) <= port
	port <= num(parts[1])
}

admin_ports := {22: "SSH", 3389: "RDP"}

# Well-known data store ports, with the service that usually listens there.
database_ports := {
	1433: "SQL Server",
	1521: "Oracle",
	3306: "MySQL/MariaDB",
	5432: "PostgreSQL",
	5439: "Redshift",
	5984: "CouchDB",
	6379: "Redis",
	7000: "Cassandra",
	7001: "Cassandra",
	8020: "HDFS",
	9042: "Cassandra",
	9200: "Elasticsearch",
	9300: "Elasticsearch",
	5601: "Kibana",
	11211: "Memcached",
	27017: "MongoDB",
	27018: "MongoDB",
	50070: "HDFS",
}

# ---------------------------------------------------------------------------
# AWS security group rules, flattened
# ---------------------------------------------------------------------------

# sg_ingress_rules(r): the ingress permissions a security-group-like resource grants, as
# {"protocol", "from", "to", "cidrs": [world and non-world CIDRs]} objects. Covers
# aws_security_group (inline ingress), aws_security_group_rule (type ingress) and
# aws_vpc_security_group_ingress_rule.
sg_ingress_rules(r) := [x |
	some b in blocks(r, "ingress")
	x := {
		"protocol": get(b, "protocol", null),
		"from": get(b, "from_port", null),
		"to": get(b, "to_port", null),
		"cidrs": array.concat(str_array(get(b, "cidr_blocks", [])), str_array(get(b, "ipv6_cidr_blocks", []))),
	}
] if r.type in {"aws_security_group", "aws_default_security_group"}

sg_ingress_rules(r) := [x |
	attr(r, "type") == "ingress"
	x := {
		"protocol": attr(r, "protocol"),
		"from": attr(r, "from_port"),
		"to": attr(r, "to_port"),
		"cidrs": array.concat(str_array(attr(r, "cidr_blocks")), str_array(attr(r, "ipv6_cidr_blocks"))),
	}
] if r.type == "aws_security_group_rule"

sg_ingress_rules(r) := [x |
	x := {
		"protocol": attr(r, "ip_protocol"),
		"from": attr(r, "from_port"),
		"to": attr(r, "to_port"),
		"cidrs": array.concat(str_array(attr(r, "cidr_ipv4")), str_array(attr(r, "cidr_ipv6"))),
	}
] if r.type == "aws_vpc_security_group_ingress_rule"

# sg_egress_rules(r): the same for egress.
sg_egress_rules(r) := [x |
	some b in blocks(r, "egress")
	x := {
		"protocol": get(b, "protocol", null),
		"from": get(b, "from_port", null),
		"to": get(b, "to_port", null),
		"cidrs": array.concat(str_array(get(b, "cidr_blocks", [])), str_array(get(b, "ipv6_cidr_blocks", []))),
	}
] if r.type in {"aws_security_group", "aws_default_security_group"}

sg_egress_rules(r) := [x |
	attr(r, "type") == "egress"
	x := {
		"protocol": attr(r, "protocol"),
		"from": attr(r, "from_port"),
		"to": attr(r, "to_port"),
		"cidrs": array.concat(str_array(attr(r, "cidr_blocks")), str_array(attr(r, "ipv6_cidr_blocks"))),
	}
] if r.type == "aws_security_group_rule"

sg_egress_rules(r) := [x |
	x := {
		"protocol": attr(r, "ip_protocol"),
		"from": attr(r, "from_port"),
		"to": attr(r, "to_port"),
		"cidrs": array.concat(str_array(attr(r, "cidr_ipv4")), str_array(attr(r, "cidr_ipv6"))),
	}
] if r.type == "aws_vpc_security_group_egress_rule"

# rule_all_ports(rule): a flattened rule admits every port (protocol -1/all, a TCP/UDP range
# spanning 0/1-65535, or the 0-0 / -1--1 forms that Checkov reads as "all").
rule_all_ports(rule) if is_all_protocol(rule.protocol)

rule_all_ports(rule) if {
	is_port_protocol(rule.protocol)
	num(rule.from) <= 1
	num(rule.to) >= 65535
}

rule_all_ports(rule) if {
	is_port_protocol(rule.protocol)
	num(rule.from) == 0
	num(rule.to) == 0
}

rule_all_ports(rule) if {
	is_port_protocol(rule.protocol)
	num(rule.from) == -1
	num(rule.to) == -1
}

# protocol_label(p): "tcp", "udp", "all", ... for messages.
protocol_label(p) := "all" if is_all_protocol(p)

else := "tcp" if lstr(p) in {"tcp", "6"}

else := "udp" if lstr(p) in {"udp", "17"}

else := lstr(p) if is_string(p)

else := sprintf("%v", [p])

# port_label(rule): "22", "0-65535" or "all" for messages.
port_label(rule) := "all" if is_all_protocol(rule.protocol)

else := "all" if {
	num(rule.from) == 0
	num(rule.to) == 0
}

else := sprintf("%v", [num(rule.from)]) if num(rule.from) == num(rule.to)

else := sprintf("%v-%v", [num(rule.from), num(rule.to)]) if {
	num(rule.from)
	num(rule.to)
}

else := "all"

# ---------------------------------------------------------------------------
# IAM policy documents
# ---------------------------------------------------------------------------

# parse_policy(p): a policy document as an object, from a JSON string or an object; {} when
# it cannot be read (unknown, empty, malformed).
parse_policy(p) := doc if {
	is_string(p)
	json.is_valid(p)
	doc := json.unmarshal(p)
	is_object(doc)
} else := p if is_object(p)

else := {}

# statements(policy): the statements of a policy (JSON string or object), normalised:
#   {"Sid": str, "Effect": "Allow"|"Deny", "Action": [..], "NotAction": [..],
#    "Resource": [..], "NotResource": [..], "Principal": {type: [ids]}, "NotPrincipal": {..},
#    "HasPrincipal": bool, "Condition": {..}}
# A bare "*" principal becomes {"AWS": ["*"]}.
statements(policy) := [normalize_statement(s) |
	some s in as_array(get(parse_policy(policy), "Statement", []))
	is_object(s)
]

normalize_statement(s) := {
	"Sid": str(object.get(s, "Sid", "")),
	"Effect": _effect(object.get(s, "Effect", "Allow")),
	"Action": str_array(object.get(s, "Action", [])),
	"NotAction": str_array(object.get(s, "NotAction", [])),
	"Resource": str_array(object.get(s, "Resource", [])),
	"NotResource": str_array(object.get(s, "NotResource", [])),
	"Principal": principal_map(object.get(s, "Principal", null)),
	"NotPrincipal": principal_map(object.get(s, "NotPrincipal", null)),
	"HasPrincipal": object.get(s, "Principal", null) != null,
	"Condition": _condition(object.get(s, "Condition", {})),
}

_effect(e) := "Deny" if lstr(e) == "deny"

else := "Allow"

_condition(c) := c if is_object(c)

else := {}

# principal_map(p): "*" -> {"AWS": ["*"]}; {"AWS": "x"} -> {"AWS": ["x"]}; null -> {}.
principal_map(p) := {"AWS": [p]} if is_string(p)

else := {k: str_array(v) | some k, v in p} if is_object(p)

else := {}

# policy_document_statements(r): statements of a data.aws_iam_policy_document, from its
# rendered json when known, otherwise from its statement blocks (unknown elements are null
# and therefore dropped).
policy_document_statements(r) := statements(j) if {
	j := attr(r, "json")
	is_string(j)
	json.is_valid(j)
} else := [_doc_block_statement(b) | some b in blocks(r, "statement")]

_doc_block_statement(b) := {
	"Sid": str(get(b, "sid", "")),
	"Effect": _effect(get(b, "effect", "Allow")),
	"Action": str_array(get(b, "actions", [])),
	"NotAction": str_array(get(b, "not_actions", [])),
	"Resource": str_array(get(b, "resources", [])),
	"NotResource": str_array(get(b, "not_resources", [])),
	"Principal": _doc_principals(get(b, "principals", [])),
	"NotPrincipal": _doc_principals(get(b, "not_principals", [])),
	"HasPrincipal": count(block_list(get(b, "principals", []))) > 0,
	"Condition": {sprintf("%s/%s", [str(get(c, "test", "")), str(get(c, "variable", ""))]): str_array(get(c, "values", [])) |
		some c in block_list(get(b, "condition", []))
	},
}

_doc_principals(ps) := {t: ids |
	some p in block_list(ps)
	t := str(get(p, "type", ""))
	ids := [id | some q in block_list(ps); str(get(q, "type", "")) == t; some id in str_array(get(q, "identifiers", []))]
}

# identity_policies(r): [{"label": str, "statements": [...]}] for every identity-based
# policy document carried by r (aws_iam_policy, aws_iam_{role,user,group}_policy,
# aws_iam_role inline_policy blocks, data.aws_iam_policy_document). The label names the
# document inside the resource for messages (e.g. "policy", "inline_policy fetch").
identity_policies(r) := [{"label": "policy", "statements": statements(attr(r, "policy"))}] if {
	r.type in {"aws_iam_policy", "aws_iam_role_policy", "aws_iam_user_policy", "aws_iam_group_policy"}
}

identity_policies(r) := [{"label": sprintf("inline_policy %s", [str(get(b, "name", ""))]), "statements": statements(get(b, "policy", null))} |
	some b in blocks(r, "inline_policy")
] if r.type == "aws_iam_role"

identity_policies(r) := [{"label": "policy document", "statements": policy_document_statements(r)}] if {
	r.type == "aws_iam_policy_document"
}

identity_policy_types := [
	"aws_iam_policy", "aws_iam_role_policy", "aws_iam_user_policy", "aws_iam_group_policy",
	"aws_iam_role", "data.aws_iam_policy_document",
]

# identity_statements: every [address, label, allow statement without Principal] triple
# of the identity-policy types present in the input. Statements that name a Principal are
# resource or trust policies and are judged by other rules.
identity_statements contains [r.address, p.label, st] if {
	some t in identity_policy_types
	some r in input.resources[t]
	some p in identity_policies(r)
	some st in p.statements
	st.Effect == "Allow"
	not st.HasPrincipal
}

# action_matches(pattern, action): IAM action pattern (with * and ?) matches action,
# case-insensitively.
action_matches(pattern, action) if lower(pattern) == lower(action)

action_matches("*", _) := true

action_matches(pattern, action) if {
	p := lower(pattern)
	endswith(p, "*")
	count(indexof_n(p, "*")) == 1
	not contains(p, "?")
	startswith(lower(action), trim_suffix(p, "*"))
}

action_matches(pattern, action) if {
	p := lower(pattern)
	_complex_wildcard(p)
	_glob_safe(p)
	glob.match(p, null, lower(action))
}

_complex_wildcard(p) if contains(p, "?")

_complex_wildcard(p) if count(indexof_n(p, "*")) > 1

_complex_wildcard(p) if {
	contains(p, "*")
	not endswith(p, "*")
}

_glob_safe(p) if {
	not contains(p, "[")
	not contains(p, "{")
	not contains(p, "\\")
}

# grants(st, action): an Allow statement grants action (via Action, or via NotAction
# that does not exclude it).
grants(st, action) if {
	st.Effect == "Allow"
	some p in st.Action
	action_matches(p, action)
}

grants(st, action) if {
	st.Effect == "Allow"
	count(st.NotAction) > 0
	not _not_action_excludes(st, action)
}

_not_action_excludes(st, action) if {
	some p in st.NotAction
	action_matches(p, action)
}

# granting_patterns(st, action): the Action patterns of st that grant action (or
# "NotAction" when the grant comes from a NotAction statement).
granting_patterns(st, action) := {p | some p in st.Action; action_matches(p, action)} | {"NotAction" |
	count(st.NotAction) > 0
	not _not_action_excludes(st, action)
}

# on_all_resources(st): the statement applies to every resource (Resource "*" or NotResource).
on_all_resources(st) if "*" in st.Resource

on_all_resources(st) if count(st.NotResource) > 0

# is_full_admin(st): Allow of every action on every resource.
is_full_admin(st) if {
	st.Effect == "Allow"
	on_all_resources(st)
	some p in st.Action
	p in {"*", "*:*"}
}

# public_principal(st): the statement's Principal is everyone ("*" or {"AWS": "*"} or any type "*").
public_principal(st) if {
	some ids in st.Principal
	"*" in ids
}

# Condition keys that do not narrow who the caller is.
_non_restricting_condition_keys := {"aws:securetransport", "aws:requestedregion", "aws:currenttime", "aws:epochtime", "aws:multifactorauthpresent"}

# has_restricting_condition(st): some Condition key narrows the callers (source account,
# org, VPC, IP, ARN, external id, ...). aws:SecureTransport alone does not.
has_restricting_condition(st) if {
	some _, kv in st.Condition
	is_object(kv)
	some k, _ in kv
	not lower(k) in _non_restricting_condition_keys
}

has_restricting_condition(st) if {
	# data.aws_iam_policy_document conditions are flattened as "test/variable"
	some k, _ in st.Condition
	contains(k, "/")
	parts := split(k, "/")
	not lower(parts[1]) in _non_restricting_condition_keys
}

# ---------------------------------------------------------------------------
# Secrets
# ---------------------------------------------------------------------------

_secret_words := ["password", "passwd", "pwd", "secret", "token", "api_key", "apikey", "api-key", "private_key", "privatekey", "private-key", "credential", "access_key", "accesskey"]

_reference_suffixes := ["_arn", "_name", "_id", "_path", "_file", "_url", "_uri", "_endpoint", "_length", "_ttl", "_type", "_region", "_header", "_param", "_parameter", "_key_id", "_version", "_location", "_policy", "_rotation", "_expiry", "_enabled"]

# secret_like_name(name): a variable/parameter name that suggests a secret value
# (and not a pointer to one, such as DB_PASSWORD_ARN or TOKEN_URL).
secret_like_name(name) if {
	n := lower(str(name))
	some w in _secret_words
	contains(n, w)
	not _reference_like_name(n)
}

_reference_like_name(n) if {
	some s in _reference_suffixes
	endswith(n, s)
}

# literal_secret_value(v): a non-empty literal that could be a secret: not a reference
# (ARN, SSM/secrets path, template, resolve), not a boolean or a small number.
literal_secret_value(v) if {
	is_string(v)
	s := trim_space(v)
	count(s) >= 6
	not _reference_like_value(s)
}

_reference_like_value(s) if startswith(s, "arn:")

_reference_like_value(s) if startswith(s, "{{resolve:")

_reference_like_value(s) if startswith(s, "${")

_reference_like_value(s) if startswith(s, "/")

_reference_like_value(s) if lower(s) in {"true", "false", "null", "none", "changeme", "placeholder"}

_reference_like_value(s) if _is_int_string(s)

# secret_markers(text): the kinds of secrets found in a text (never the values).
# Note: regorus is built without the regex crate's Unicode tables, so patterns must not use
# \s, \w, \d or (?i): use explicit ASCII classes and match against lower(text) instead.
secret_markers(text) := {m | some m in _marker_kinds; _marker_present(m, text)}

_marker_kinds := {"AWS access key id", "private key", "password assignment", "AWS secret access key"}

_marker_present("AWS access key id", text) if regex.match(`(A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}`, text)

_marker_present("private key", text) if {
	contains(text, "PRIVATE KEY")
	regex.match(`-----BEGIN ((RSA|EC|DSA|OPENSSH|ENCRYPTED|PGP) )?PRIVATE KEY`, text)
}

_marker_present("password assignment", text) if regex.match(`(password|passwd)["']?[ \t]*[=:][ \t]*["']?[^ \t\r\n"'$<{(][^ \t\r\n"']{3,}`, lower(text))

_marker_present("AWS secret access key", text) if regex.match(`aws_secret_access_key["']?[ \t]*[=:][ \t]*["']?[a-z0-9/+=]{40}`, lower(text))

# has_access_key_id(s): s contains something shaped like an AWS access key id (cheap prefilter first).
has_access_key_id(s) if {
	some p in ["AKIA", "ASIA", "A3T", "ABIA", "ACCA"]
	contains(s, p)
	regex.match(`(A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}`, s)
}

# decoded_text(s): s base64-decoded when it is valid base64, s otherwise.
decoded_text(s) := d if {
	is_string(s)
	count(s) >= 4
	not contains(s, " ")
	base64.is_valid(s)
	d := base64.decode(s)
} else := s if is_string(s)

else := ""

# ---------------------------------------------------------------------------
# Names and tags
# ---------------------------------------------------------------------------

# tags(r): the resource's tags (or tags_all when tags is null), {} when none.
tags(r) := t if {
	t := attr(r, "tags")
	is_object(t)
} else := t if {
	t := attr(r, "tags_all")
	is_object(t)
} else := {}
