package arbiter.rules.aws.container_privileged

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-CONTAINER-001",
	"title": "Container runs privileged or shares the host's process namespace",
	"severity": "medium",
	"effect": "warn",
	"category": "compute",
	"provider": "aws",
	"resource_types": ["aws_ecs_task_definition", "aws_batch_job_definition", "aws_codebuild_project"],
	"rationale": "A privileged container (or one in the host's PID namespace) has the host's devices and capabilities: a compromise of the container is a compromise of the instance and of every other task and credential on it.",
	"remediation": "Drop privileged = true and pid_mode = \"host\"; grant the specific Linux capabilities needed (linuxParameters.capabilities.add). CodeBuild needs privileged_mode only to build Docker images: keep it to those projects.",
	"checkov": ["CKV_AWS_334", "CKV_AWS_335", "CKV_AWS_210", "CKV_AWS_316"],
}

# ECS container definitions: a JSON array of containers.
findings contains f if {
	some r in input.resources.aws_ecs_task_definition
	defs := r.values.container_definitions
	is_string(defs)
	contains(defs, "privileged")
	json.is_valid(defs)
	some c in lib.as_array(json.unmarshal(defs))
	is_object(c)
	c.privileged == true
	f := {
		"address": r.address,
		"message": sprintf("container %s runs privileged", [lib.str(object.get(c, "name", "?"))]),
		"evidence": {"container": object.get(c, "name", null)},
	}
}

findings contains f if {
	some r in input.resources.aws_ecs_task_definition
	r.values.pid_mode == "host"
	f := {
		"address": r.address,
		"message": "task shares the host's process namespace (pid_mode = host)",
		"evidence": {"pid_mode": "host"},
	}
}

# Batch: container_properties is one JSON object.
findings contains f if {
	some r in input.resources.aws_batch_job_definition
	p := r.values.container_properties
	is_string(p)
	contains(p, "privileged")
	json.is_valid(p)
	c := json.unmarshal(p)
	is_object(c)
	c.privileged == true
	f := {
		"address": r.address,
		"message": "job container runs privileged",
		"evidence": {"privileged": true},
	}
}

# CodeBuild: privileged mode is how Docker images are built; reported low.
findings contains f if {
	some r in input.resources.aws_codebuild_project
	lib.truthy(r.values.environment[0].privileged_mode)
	f := {
		"address": r.address,
		"message": "build environment runs privileged (privileged_mode = true)",
		"evidence": {"privileged_mode": true},
		"severity": "low",
	}
}
