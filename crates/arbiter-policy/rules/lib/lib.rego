# Shared helpers for the built-in rule pack.
#
# Every helper is total on arbitrary JSON: it never raises a builtin type error
# (regorus runs with strict builtin errors), it simply does not hold, or returns
# an empty/neutral value, when its argument has an unexpected shape.
#
# Performance contract (measured with regorus 0.14):
# - this package defines FUNCTIONS ONLY. Referencing any non-function rule of a package
#   from another package makes regorus evaluate that package's rules, so a constant
#   here would cost every rule that touches it; constants are inlined as literals;
# - nothing here walks the input: helpers only look at the values they are given;
# - a user-function call costs several microseconds, so rules call these helpers only
#   after a cheap inline filter (a direct attribute comparison) has selected candidates.
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
	t := trim_prefix(s, "-")
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

# environment(stack): the stack's environment ("prod", "staging", "dev", "ephemeral") or "".
environment(stack) := e if {
	e := stack.environment
	is_string(e)
} else := ""

# on_update(r, created, updated): `updated` when the resource already exists (updated in
# place or replaced), `created` when it is new. Used for severities of settings that are
# hygiene on a new resource but a weakening when switched off on an existing one (only a
# weakening that the before-state did not have is reported as introduced).
on_update(r, created, updated) := updated if {
	some a in r.actions
	a in {"update", "delete"}
} else := created

# is_prod(stack): the stack is a production stack.
is_prod(stack) if stack.environment == "prod"

# by_env(stack, prod_value, other_value): prod_value on prod stacks, other_value elsewhere.
by_env(stack, prod_value, other_value) := prod_value if is_prod(stack)

else := other_value

# ---------------------------------------------------------------------------
# Networks
# ---------------------------------------------------------------------------

# is_world_cidr(c): c is the whole IPv4 or IPv6 internet.
is_world_cidr(c) if c in {"0.0.0.0/0", "::/0", "::0/0", "0000:0000:0000:0000:0000:0000:0000:0000/0"}

is_world_cidr(c) if {
	is_string(c)
	trim_space(c) in {"0.0.0.0/0", "::/0", "::0/0", "0000:0000:0000:0000:0000:0000:0000:0000/0"}
}

# is_internet_source(s): Azure/GCP style "anywhere" source (*, Internet, Any, 0.0.0.0, any /0 prefix).
is_internet_source(s) if is_world_cidr(s)

is_internet_source(s) if {
	is_string(s)
	lower(trim_space(s)) in {"*", "internet", "any", "0.0.0.0", "<nw>/0", "/0"}
}

# is_all_protocol(p): the protocol value means "all protocols" (-1 / all), which
# also means all ports.
is_all_protocol(p) if p in {"-1", "all", "ALL", "All", "*", -1}

# is_port_protocol(p): a protocol that has ports (tcp/udp/sctp, by name or number).
is_port_protocol(p) if p in {"tcp", "udp", "TCP", "UDP", "Tcp", "Udp", "6", "17", "sctp", "132", 6, 17, 132}

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

# rule_all_ports(rule): a flattened rule {protocol, from, to} admits every port (protocol
# -1/all, a TCP/UDP range spanning 0/1-65535, or the 0-0 / -1--1 forms that Checkov reads
# as "all").
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

# port_spec_includes(spec, port): Azure/GCP port spec ("22", "20-25", "*", 22) includes port.
port_spec_includes(spec, _) if spec in {"*", "0-65535", "1-65535"}

port_spec_includes(spec, port) if num(spec) == port

port_spec_includes(spec, port) if {
	is_string(spec)
	parts := split(trim_space(spec), "-")
	count(parts) == 2
	num(parts[0]) <= port
	port <= num(parts[1])
}

# admin_service(port): "SSH" / "RDP" for the administrative ports.
admin_service(port) := {22: "SSH", 3389: "RDP"}[port]

# database_ports(): well-known data store ports, with the service that usually listens there.
database_ports() := {
	1433: "SQL Server",
	1521: "Oracle",
	3306: "MySQL/MariaDB",
	5432: "PostgreSQL",
	5439: "Redshift",
	5601: "Kibana",
	5984: "CouchDB",
	6379: "Redis",
	7000: "Cassandra",
	7001: "Cassandra",
	8020: "HDFS",
	9042: "Cassandra",
	9200: "Elasticsearch",
	9300: "Elasticsearch",
	11211: "Memcached",
	27017: "MongoDB",
	27018: "MongoDB",
	50070: "HDFS",
}

# world_ingress(resources): every ingress permission open to the whole internet, as a set
# of [address, rule, cidr] where rule = {"protocol", "from", "to"}; covers aws_security_group
# inline ingress, aws_security_group_rule (type ingress) and aws_vpc_security_group_ingress_rule.
# Called once per rule evaluation with input.resources. Only the canonical spellings
# 0.0.0.0/0 and ::/0 are matched here (membership tests are the cheapest filter regorus has;
# note that `x in ref[i]` with an unbound i is ten times slower than binding the element first).
world_ingress(resources) := ((_wi_sg(resources, "cidr_blocks", "0.0.0.0/0") | _wi_sg(resources, "ipv6_cidr_blocks", "::/0")) | (_wi_sgr(resources, "cidr_blocks", "0.0.0.0/0") | _wi_sgr(resources, "ipv6_cidr_blocks", "::/0"))) | (_wi_vpc(resources, "cidr_ipv4", "0.0.0.0/0") | _wi_vpc(resources, "cidr_ipv6", "::/0"))

_wi_sg(resources, key, world) := {[r.address, _flat_sg_block(b), world] |
	some r in object.get(resources, "aws_security_group", [])
	b := r.values.ingress[_]
	world in b[key]
}

_flat_sg_block(b) := {"protocol": object.get(b, "protocol", null), "from": object.get(b, "from_port", null), "to": object.get(b, "to_port", null)}

_wi_sgr(resources, key, world) := {[r.address, {"protocol": object.get(r.values, "protocol", null), "from": object.get(r.values, "from_port", null), "to": object.get(r.values, "to_port", null)}, world] |
	some r in object.get(resources, "aws_security_group_rule", [])
	world in r.values[key]
	r.values.type == "ingress"
}

_wi_vpc(resources, key, world) := {[r.address, {"protocol": object.get(r.values, "ip_protocol", null), "from": object.get(r.values, "from_port", null), "to": object.get(r.values, "to_port", null)}, world] |
	some r in object.get(resources, "aws_vpc_security_group_ingress_rule", [])
	r.values[key] == world
}

# protocol_label(p): "tcp", "udp", "all", ... for messages.
protocol_label(p) := "all" if is_all_protocol(p)

else := "tcp" if lstr(p) in {"tcp", "6"}

else := "udp" if lstr(p) in {"udp", "17"}

else := lstr(p) if is_string(p)

else := sprintf("%v", [p])

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
#    "HasPrincipal": bool, "Condition": {operator: {key: value}}}
# Action/NotAction/Resource/NotResource are always arrays of strings; a bare "*" principal
# becomes {"AWS": ["*"]}.
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

# policy_document_statements(r): normalised statements of a data.aws_iam_policy_document
# (see raw_document_statements).
policy_document_statements(r) := [normalize_statement(st) | some st in raw_document_statements(r)]

_doc_principals(ps) := {t: ids |
	some p in block_list(ps)
	t := str(get(p, "type", ""))
	ids := [id | some q in block_list(ps); str(get(q, "type", "")) == t; some id in str_array(get(q, "identifiers", []))]
}

# identity_candidates(resources): [address, label, statement] for the Allow statements without
# a Principal in the identity policies present in resources (rules then test
# raw_on_all_resources / raw_full_admin themselves). Statements are returned RAW (as written in the policy JSON; data source blocks
# are converted to the same shape): normalising is expensive in regorus (~100 us per statement),
# so rules test the raw statement cheaply and call normalize_statement only on survivors.
# Only documents whose text contains a quoted "*" are parsed (every wildcard rule needs
# Action "*" or Resource "*"; NotResource-only documents without any "*" are not examined).
identity_candidates(resources) := (_ic_policy(resources) | _ic_role(resources)) | _ic_doc(resources)

_ic_policy(resources) := {[r.address, "policy", st] |
	some t in ["aws_iam_policy", "aws_iam_role_policy", "aws_iam_user_policy", "aws_iam_group_policy"]
	some r in object.get(resources, t, [])
	r.values.policy != null
	contains(r.values.policy, `"*"`)
	some st in _raw_statements(r.values.policy)
	_identity_candidate(st)
}

_ic_role(resources) := {[r.address, sprintf("inline_policy %s", [str(object.get(b, "name", ""))]), st] |
	some r in object.get(resources, "aws_iam_role", [])
	b := r.values.inline_policy[_]
	b.policy != null
	contains(b.policy, `"*"`)
	some st in _raw_statements(b.policy)
	_identity_candidate(st)
}

_ic_doc(resources) := {[r.address, "policy document", st] |
	some r in object.get(resources, "data.aws_iam_policy_document", [])
	some st in raw_document_statements(r)
	_identity_candidate(st)
}

# _raw_statements(policy): the statement objects of a JSON policy string, as written.
_raw_statements(policy) := [st | some st in as_array(object.get(parse_policy(policy), "Statement", [])); is_object(st)]

_identity_candidate(st) if {
	object.get(st, "Effect", "Allow") in {"Allow", "allow"}
	object.get(st, "Principal", null) == null
}

# raw_has(v, x): a raw policy value (string or array) is or contains x.
raw_has(v, x) if v == x

raw_has(v, x) if x in v

# raw_on_all_resources(st): Resource "*" or a non-empty NotResource.
raw_on_all_resources(st) if raw_has(st.Resource, "*")

raw_on_all_resources(st) if {
	st.NotResource != null
	st.NotResource != []
}

# raw_full_admin(st): Action "*" (or "*:*") on every resource.
raw_full_admin(st) if {
	raw_on_all_resources(st)
	raw_has(st.Action, "*")
}

raw_full_admin(st) if {
	raw_on_all_resources(st)
	raw_has(st.Action, "*:*")
}

# raw_document_statements(r): the statements of a data.aws_iam_policy_document in raw
# policy-JSON shape, from its rendered json when known, otherwise from its statement blocks
# (unknown elements are null and are dropped by normalize_statement).
raw_document_statements(r) := _raw_statements(j) if {
	j := attr(r, "json")
	is_string(j)
	json.is_valid(j)
} else := [_doc_block_raw(b) | some b in blocks(r, "statement")]

_doc_block_raw(b) := object.union(
	{
		"Sid": str(get(b, "sid", "")),
		"Effect": _effect(get(b, "effect", "Allow")),
		"Action": str_array(get(b, "actions", [])),
		"NotAction": str_array(get(b, "not_actions", [])),
		"Resource": str_array(get(b, "resources", [])),
		"NotResource": str_array(get(b, "not_resources", [])),
		"Condition": {sprintf("%s/%s", [str(get(c, "test", "")), str(get(c, "variable", ""))]): str_array(get(c, "values", [])) |
			some c in block_list(get(b, "condition", []))
		},
	},
	{"Principal": _doc_principals(get(b, "principals", [])) | count(block_list(get(b, "principals", []))) > 0},
)

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

# has_restricting_condition(st): some Condition key narrows the callers (source account,
# org, VPC, IP, ARN, external id, ...). aws:SecureTransport and other request-property
# keys alone do not.
has_restricting_condition(st) if {
	some _, kv in st.Condition
	is_object(kv)
	some k, _ in kv
	_restricting_key(k)
}

has_restricting_condition(st) if {
	# data.aws_iam_policy_document conditions are flattened as "test/variable"
	some k, _ in st.Condition
	contains(k, "/")
	parts := split(k, "/")
	_restricting_key(parts[1])
}

_restricting_key(k) if {
	is_string(k)
	not lower(k) in {"aws:securetransport", "aws:requestedregion", "aws:currenttime", "aws:epochtime", "aws:multifactorauthpresent", "aws:multifactorauthage", "aws:useragent", "aws:referer"}
}

# ---------------------------------------------------------------------------
# Secrets
# ---------------------------------------------------------------------------

# secret_like_name(name): a variable/parameter name that suggests a secret value
# (and not a pointer to one, such as DB_PASSWORD_ARN or TOKEN_URL).
secret_like_name(name) if {
	n := lower(str(name))
	some w in ["password", "passwd", "pwd", "secret", "token", "api_key", "apikey", "api-key", "private_key", "privatekey", "private-key", "credential", "access_key", "accesskey"]
	contains(n, w)
	not _reference_like_name(n)
}

_reference_like_name(n) if {
	some s in ["_arn", "_name", "_id", "_path", "_file", "_url", "_uri", "_endpoint", "_length", "_ttl", "_type", "_region", "_header", "_param", "_parameter", "_version", "_location", "_policy", "_rotation", "_expiry", "_enabled", "_secret_id", "_ssm", "_key_id"]
	endswith(n, s)
}

# literal_secret_value(v): a non-empty literal that could be a secret: not a reference
# (ARN, SSM/secrets path, template, resolve), not a boolean or a number.
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
secret_markers(text) := {m |
	some m in ["AWS access key id", "private key", "password assignment", "AWS secret access key"]
	_marker_present(m, text)
}

_marker_present("AWS access key id", text) if has_access_key_id(text)

_marker_present("private key", text) if {
	contains(text, "PRIVATE KEY")
	regex.match(`-----BEGIN ((RSA|EC|DSA|OPENSSH|ENCRYPTED|PGP) )?PRIVATE KEY`, text)
}

_marker_present("password assignment", text) if {
	contains(lower(text), "passw")
	regex.match(`(password|passwd)["']?[ \t]*[=:][ \t]*["']?[^ \t\r\n"'$<{(][^ \t\r\n"']{3,}`, lower(text))
}

_marker_present("AWS secret access key", text) if {
	contains(lower(text), "aws_secret_access_key")
	regex.match(`aws_secret_access_key["']?[ \t]*[=:][ \t]*["']?[a-z0-9/+=]{40}`, lower(text))
}

# has_access_key_id(s): s contains something shaped like an AWS access key id (cheap
# substring pre-filter before the regex).
has_access_key_id(s) if {
	is_string(s)
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

# words(s): the lower-cased words of s, split on - _ . / : and spaces.
words(s) := {w |
	some w in split(replace(replace(replace(replace(replace(lower(str(s)), "_", " "), "-", " "), ".", " "), "/", " "), ":", " "), " ")
	w != ""
}
