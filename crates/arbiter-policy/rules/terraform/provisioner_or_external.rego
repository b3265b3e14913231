package arbiter.rules.terraform.provisioner_or_external

import rego.v1

metadata := {
	"id": "ARB-TF-EXEC-001",
	"title": "Provisioner or external data source runs commands on the worker",
	"severity": "medium",
	"effect": "escalate",
	"category": "execution",
	"provider": "terraform",
	"resource_types": ["provisioner.local-exec", "provisioner.remote-exec", "provisioner.file", "data.external"],
	"rationale": "local-exec provisioners and `external` data sources run arbitrary programs on the machine that applies the change (the Arbiter worker, inside its sandbox); remote-exec and file provisioners push commands and files to the created hosts. Their effect is not in the plan: what they do cannot be judged from it.",
	"remediation": "Replace the provisioner with provider resources (cloud-init/user_data, configuration management, a provider for the API being called), or have a person review the command; `external` data sources can usually become a provider data source or a variable.",
	"checkov": [],
}

findings contains f if {
	some kind in ["local-exec", "remote-exec", "file"]
	some r in object.get(input.resources, sprintf("provisioner.%s", [kind]), [])
	f := {
		"address": r.address,
		"message": sprintf("runs a %s provisioner", [kind]),
		"evidence": {"provisioner": kind, "index": r.values.index},
	}
}

findings contains f if {
	some r in input.resources["data.external"]
	f := {
		"address": r.address,
		"message": "external data source runs a program while planning",
		"evidence": {"data_source": "external"},
	}
}
