package arbiter.rules.aws.ecs_task_env_plaintext_secret

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-SECRET-004",
	"title": "Secret hard-coded in an ECS container definition",
	"severity": "high",
	"effect": "escalate",
	"category": "secrets",
	"provider": "aws",
	"resource_types": ["aws_ecs_task_definition"],
	"rationale": "Values in a container definition's environment list are stored in the task definition, readable with ecs:DescribeTaskDefinition and kept in every revision forever.",
	"remediation": "Move the value to Secrets Manager or SSM Parameter Store and reference it through the container definition's secrets list (valueFrom), granting the task execution role access.",
	"checkov": [],
}

findings contains f if {
	some r in input.resources.aws_ecs_task_definition
	cd := r.values.container_definitions
	is_string(cd)
	contains(cd, "environment")
	json.is_valid(cd)
	some c in lib.as_array(json.unmarshal(cd))
	is_object(c)
	e := c.environment[_]
	key := e.name
	value := e.value
	is_string(key)
	_secret(key, value)
	f := {
		"address": r.address,
		"message": sprintf("container %s environment variable %s holds a literal secret-like value", [lib.str(object.get(c, "name", "")), key]),
		"evidence": {"container": object.get(c, "name", null), "variable": key},
	}
}

_secret(key, value) if {
	lib.secret_like_name(key)
	lib.literal_secret_value(value)
}

_secret(_, value) if lib.has_access_key_id(value)
