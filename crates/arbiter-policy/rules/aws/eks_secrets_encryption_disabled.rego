package arbiter.rules.aws.eks_secrets_encryption_disabled

import data.arbiter.lib
import rego.v1

metadata := {
	"id": "ARB-AWS-EKS-002",
	"title": "EKS secrets envelope encryption not configured",
	"severity": "low",
	"effect": "info",
	"category": "kubernetes",
	"provider": "aws",
	"resource_types": ["aws_eks_cluster"],
	"rationale": "Envelope encryption of Kubernetes secrets with a KMS key protects them in etcd backups and adds an auditable key boundary.",
	"remediation": "Add encryption_config { resources = [\"secrets\"] provider { key_arn = aws_kms_key.eks.arn } }.",
	"checkov": ["CKV_AWS_58"],
}

findings contains f if {
	some r in input.resources.aws_eks_cluster
	not r.values.encryption_config[0].resources
	not r.unknown.encryption_config == true
	f := {
		"address": r.address,
		"message": "Kubernetes secrets are not envelope-encrypted with KMS (no encryption_config)",
		"evidence": {},
	}
}
