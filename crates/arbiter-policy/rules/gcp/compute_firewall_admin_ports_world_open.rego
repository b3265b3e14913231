package arbiter.rules.gcp.compute_firewall_admin_ports_world_open

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-GCP-NET-001",
	"title": "GCP firewall opens SSH or RDP to the whole internet",
	"severity": "critical",
	"effect": "deny",
	"category": "network",
	"provider": "gcp",
	"resource_types": ["google_compute_firewall"],
	"rationale": "An ingress firewall rule allowing tcp:22 or tcp:3389 from 0.0.0.0/0 (or ::/0) exposes every matching VM's SSH/RDP daemon to internet-wide brute force and exploits.",
	"remediation": "Restrict source_ranges to known administrative ranges, or use Identity-Aware Proxy TCP forwarding (source range 35.235.240.0/20) instead of public SSH/RDP.",
	"checkov": ["CKV_GCP_2", "CKV_GCP_3"],
	"fix": [{"path": "disabled", "value": true}],
}

findings contains f if {
	some r in input.resources.google_compute_firewall
	cidr := r.values.source_ranges[_]
	cidr in {"0.0.0.0/0", "::/0"}
	not r.values.direction == "EGRESS"
	not r.values.disabled == true
	a := r.values.allow[_]
	_proto_has_ports(a.protocol)
	some port in [22, 3389]
	_ports_include(a, port)
	f := {
		"address": r.address,
		"message": sprintf("firewall allows %s port %d from %s", [lib.admin_service(port), port, cidr]),
		"evidence": {"port": port, "cidr": cidr, "protocol": a.protocol, "ports": object.get(a, "ports", null)},
	}
}

_proto_has_ports(p) if lib.lstr(p) in {"tcp", "all", "6"}

# no ports listed means every port of the protocol
_ports_include(a, _) if not a.ports[0]

_ports_include(a, port) if lib.port_spec_includes(a.ports[_], port)
