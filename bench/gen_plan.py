#!/usr/bin/env python3
"""Generate a realistic, large `terraform show -json` plan for benchmarks.

Usage: gen_plan.py N_CHANGES OUT.json [--seed S] [--violations PCT]

The plan mixes common AWS resource types with attribute sets shaped like the
AWS provider's (instances, security groups, S3 buckets and their companions,
IAM policies, RDS, EBS, Lambda, SQS, ...), module addresses, count/for_each
indexes, updates with before/after, a few deletes and replaces, and a
`configuration` section with references and constant expressions. Like
Terraform's own output, creations list their computed attributes in
`after_unknown`, updates and deletions carry the computed values of the prior
state, masks mirror nested blocks, and replacements name their reason and
`replace_paths`. About PCT percent of the changes
(default 3) carry a security violation (world-open SSH, IAM *:*, public ACL,
unencrypted volume, IMDSv1, ...). Deterministic for a given seed.
"""
import json
import random
import sys


def tags(rng, i):
    return {"Name": f"res-{i}", "team": rng.choice(["payments", "search", "platform", "data"]),
            "env": "prod", "cost-center": f"cc-{rng.randint(100, 999)}"}


def instance(rng, i, bad):
    return {
        "ami": f"ami-{rng.getrandbits(64):016x}", "arn": None,
        "associate_public_ip_address": False, "availability_zone": "us-east-1a",
        "credit_specification": [], "disable_api_stop": False, "disable_api_termination": False,
        "ebs_block_device": [], "ebs_optimized": True, "get_password_data": False,
        "hibernation": False, "iam_instance_profile": f"app-{i}",
        "instance_type": rng.choice(["t3.micro", "t3.large", "m5.large", "m6i.xlarge", "c5.2xlarge", "r6g.large"]),
        "key_name": None, "launch_template": [],
        "metadata_options": [{"http_endpoint": "enabled", "http_put_response_hop_limit": 1,
                              "http_tokens": "optional" if bad else "required",
                              "instance_metadata_tags": "disabled"}],
        "monitoring": True, "root_block_device": [{"delete_on_termination": True, "encrypted": True,
                                                    "volume_size": rng.choice([8, 20, 50, 100]), "volume_type": "gp3",
                                                    "tags": None, "kms_key_id": None}],
        "source_dest_check": True, "subnet_id": f"subnet-{rng.getrandbits(32):08x}",
        "tags": tags(rng, i), "tags_all": tags(rng, i), "tenancy": "default", "timeouts": None,
        "user_data": None, "user_data_replace_on_change": False,
        "volume_tags": None, "vpc_security_group_ids": [f"sg-{rng.getrandbits(32):08x}"],
    }


def security_group(rng, i, bad):
    port = 22 if bad else rng.choice([443, 8080, 5432])
    cidr = "0.0.0.0/0" if bad else "10.0.0.0/8"
    return {
        "description": f"sg {i}", "egress": [{"cidr_blocks": ["10.0.0.0/8"], "description": "", "from_port": 0,
                                            "ipv6_cidr_blocks": [], "prefix_list_ids": [], "protocol": "-1",
                                            "security_groups": [], "self": False, "to_port": 0}],
        "ingress": [{"cidr_blocks": [cidr], "description": "app", "from_port": port, "ipv6_cidr_blocks": [],
                     "prefix_list_ids": [], "protocol": "tcp", "security_groups": [], "self": False, "to_port": port}],
        "name": f"sg-{i}", "name_prefix": None, "revoke_rules_on_delete": False,
        "tags": tags(rng, i), "tags_all": tags(rng, i), "timeouts": None, "vpc_id": f"vpc-{rng.getrandbits(32):08x}",
    }


def s3_bucket(rng, i, bad):
    return {"bucket": f"bucket-{i}-{rng.getrandbits(24):06x}", "bucket_prefix": None, "force_destroy": False,
            "object_lock_enabled": False, "tags": tags(rng, i), "tags_all": tags(rng, i), "timeouts": None}


def s3_acl(rng, i, bad):
    return {"acl": "public-read" if bad else "private", "bucket": f"bucket-{i}", "expected_bucket_owner": None}


def s3_pab(rng, i, bad):
    v = not bad
    return {"block_public_acls": v, "block_public_policy": v, "bucket": f"bucket-{i}",
            "ignore_public_acls": v, "restrict_public_buckets": v}


def iam_policy(rng, i, bad):
    stmt = ({"Effect": "Allow", "Action": "*", "Resource": "*"} if bad else
            {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
             "Resource": [f"arn:aws:s3:::bucket-{i}", f"arn:aws:s3:::bucket-{i}/*"]})
    return {"description": f"policy {i}", "name": f"policy-{i}", "name_prefix": None, "path": "/",
            "policy": json.dumps({"Version": "2012-10-17", "Statement": [stmt]}),
            "tags": tags(rng, i), "tags_all": tags(rng, i)}


def ebs_volume(rng, i, bad):
    return {"availability_zone": "us-east-1a", "encrypted": not bad, "final_snapshot": False,
            "multi_attach_enabled": False, "outpost_arn": None, "size": rng.choice([20, 100, 500]),
            "snapshot_id": None, "tags": tags(rng, i), "tags_all": tags(rng, i), "timeouts": None, "type": "gp3"}


def db_instance(rng, i, bad):
    return {"allocated_storage": 100, "allow_major_version_upgrade": None, "apply_immediately": False,
            "auto_minor_version_upgrade": True, "backup_retention_period": 7, "backup_window": "03:00-04:00",
            "copy_tags_to_snapshot": True, "db_name": "app", "db_subnet_group_name": f"dbsub-{i}",
            "deletion_protection": True, "engine": "postgres", "engine_version": "15.4",
            "final_snapshot_identifier": f"final-{i}", "iam_database_authentication_enabled": True,
            "identifier": f"db-{i}", "instance_class": rng.choice(["db.t3.medium", "db.r6g.large"]),
            "multi_az": True, "password": None, "performance_insights_enabled": True,
            "publicly_accessible": bad, "skip_final_snapshot": False, "storage_encrypted": True,
            "storage_type": "gp3", "tags": tags(rng, i), "tags_all": tags(rng, i), "username": "app",
            "vpc_security_group_ids": [f"sg-{rng.getrandbits(32):08x}"]}


def lambda_fn(rng, i, bad):
    return {"architectures": ["arm64"], "description": f"fn {i}", "environment": [{"variables": {"LOG_LEVEL": "info"}}],
            "filename": None, "function_name": f"fn-{i}", "handler": "index.handler", "memory_size": 256,
            "package_type": "Zip", "publish": False, "reserved_concurrent_executions": -1,
            "role": f"arn:aws:iam::123456789012:role/fn-{i}", "runtime": "python3.12",
            "s3_bucket": "artifacts", "s3_key": f"fn-{i}.zip", "tags": tags(rng, i), "tags_all": tags(rng, i),
            "timeout": 30, "tracing_config": [{"mode": "Active"}], "vpc_config": []}


def sqs(rng, i, bad):
    return {"content_based_deduplication": False, "delay_seconds": 0, "fifo_queue": False,
            "kms_master_key_id": None if bad else "alias/aws/sqs", "max_message_size": 262144,
            "message_retention_seconds": 345600, "name": f"q-{i}", "receive_wait_time_seconds": 0,
            "sqs_managed_sse_enabled": not bad, "tags": tags(rng, i), "tags_all": tags(rng, i),
            "visibility_timeout_seconds": 30}


def log_group(rng, i, bad):
    return {"kms_key_id": None, "log_group_class": "STANDARD", "name": f"/app/{i}", "retention_in_days": 30,
            "skip_destroy": False, "tags": tags(rng, i), "tags_all": tags(rng, i)}


def route53_record(rng, i, bad):
    return {"alias": [], "allow_overwrite": None, "name": f"host-{i}.example.com", "records": [f"10.0.{i % 250}.{i % 200}"],
            "set_identifier": None, "ttl": 300, "type": "A", "zone_id": "Z0123456789"}


# Attributes the provider computes: unknown in a creation's `after`, known in
# the prior state of an update or deletion.
COMPUTED = {
    "aws_instance": ["arn", "cpu_core_count", "cpu_options", "host_id", "instance_state", "ipv6_addresses",
                     "network_interface", "outpost_arn", "password_data", "primary_network_interface_id",
                     "private_dns", "private_ip", "public_dns", "public_ip", "security_groups"],
    "aws_security_group": ["arn", "owner_id"],
    "aws_s3_bucket": ["acceleration_status", "arn", "bucket_domain_name", "bucket_regional_domain_name",
                      "hosted_zone_id", "policy", "region", "request_payer",
                      "server_side_encryption_configuration", "versioning", "website_endpoint"],
    "aws_s3_bucket_acl": ["access_control_policy"],
    "aws_s3_bucket_public_access_block": [],
    "aws_iam_policy": ["arn", "attachment_count", "policy_id"],
    "aws_ebs_volume": ["arn", "iops", "kms_key_id", "throughput"],
    "aws_db_instance": ["address", "arn", "availability_zone", "ca_cert_identifier", "endpoint",
                        "hosted_zone_id", "latest_restorable_time", "maintenance_window", "option_group_name",
                        "parameter_group_name", "port", "resource_id", "status"],
    "aws_lambda_function": ["arn", "code_sha256", "invoke_arn", "last_modified", "logging_config",
                            "qualified_arn", "qualified_invoke_arn", "signing_job_arn",
                            "signing_profile_version_arn", "source_code_hash", "source_code_size", "version"],
    "aws_sqs_queue": ["arn", "deduplication_scope", "fifo_throughput_limit", "policy", "redrive_allow_policy",
                      "redrive_policy", "url"],
    "aws_cloudwatch_log_group": ["arn"],
    "aws_route53_record": ["fqdn"],
}

# Attributes whose change forces replacement, per type.
FORCE_NEW = {"aws_instance": "ami", "aws_security_group": "name", "aws_s3_bucket": "bucket",
             "aws_s3_bucket_acl": "bucket", "aws_s3_bucket_public_access_block": "bucket",
             "aws_iam_policy": "name", "aws_ebs_volume": "availability_zone",
             "aws_db_instance": "identifier", "aws_lambda_function": "function_name",
             "aws_sqs_queue": "name", "aws_cloudwatch_log_group": "name", "aws_route53_record": "name"}


def computed_value(rng, typ, key, i):
    """A plausible known value for a computed attribute (prior state)."""
    if key == "arn" or key.endswith("_arn"):
        return f"arn:aws:{typ.split('_')[1]}:us-east-1:123456789012:{i}-{rng.getrandbits(24):06x}"
    if key in ("cors_rule", "grant", "lifecycle_rule", "logging", "replication_configuration", "website",
               "ephemeral_block_device", "network_interface", "secondary_private_ips", "security_groups",
               "ipv6_addresses", "replicas", "master_user_secret", "access_control_policy"):
        return []
    if key in ("capacity_reservation_specification", "cpu_options", "enclave_options", "maintenance_options",
               "private_dns_name_options", "logging_config", "server_side_encryption_configuration",
               "versioning", "object_lock_configuration"):
        return [{"enabled": False, "id": f"{key}-{i}"}]
    if key in ("private_ip", "public_ip"):
        return f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
    if key in ("cpu_core_count", "cpu_threads_per_core", "port", "iops", "throughput", "source_code_size",
               "attachment_count", "ipv6_address_count"):
        return rng.choice([1, 2, 3000, 125, 5432])
    return f"{rng.getrandbits(40):010x}"


def unknown_mirror(value):
    """`after_unknown` mirror of a known value: empty containers, false leaves dropped."""
    if isinstance(value, dict):
        return {k: unknown_mirror(v) for k, v in value.items() if isinstance(v, (dict, list))}
    if isinstance(value, list):
        return [unknown_mirror(v) if isinstance(v, (dict, list)) else False for v in value]
    return False


def sensitive_mirror(value, secret=()):
    """`*_sensitive` mirror: containers mirrored, `true` for the secret attributes."""
    if isinstance(value, dict):
        out = {k: sensitive_mirror(v) for k, v in value.items() if isinstance(v, (dict, list))}
        out.update({k: True for k in secret if k in value})
        return out
    if isinstance(value, list):
        return [sensitive_mirror(v) if isinstance(v, (dict, list)) else False for v in value]
    return False


SECRET = {"aws_db_instance": ("password",), "aws_lambda_function": ("environment",)}


TYPES = [
    ("aws_instance", instance, 14), ("aws_security_group", security_group, 10),
    ("aws_s3_bucket", s3_bucket, 8), ("aws_s3_bucket_acl", s3_acl, 4),
    ("aws_s3_bucket_public_access_block", s3_pab, 6), ("aws_iam_policy", iam_policy, 8),
    ("aws_ebs_volume", ebs_volume, 8), ("aws_db_instance", db_instance, 4),
    ("aws_lambda_function", lambda_fn, 10), ("aws_sqs_queue", sqs, 8),
    ("aws_cloudwatch_log_group", log_group, 10), ("aws_route53_record", route53_record, 10),
]


def after_or(rc):
    """The known attribute values of a change: after, else before."""
    return rc["change"]["after"] or rc["change"]["before"] or {}


def main():
    args = sys.argv[1:]
    if len(args) < 2:
        print(__doc__, file=sys.stderr)
        sys.exit(1)
    n, out = int(args[0]), args[1]
    seed, pct = 42, 3.0
    if "--seed" in args:
        seed = int(args[args.index("--seed") + 1])
    if "--violations" in args:
        pct = float(args[args.index("--violations") + 1])
    rng = random.Random(seed)
    weights = [w for _, _, w in TYPES]
    changes, config_resources = [], {}
    for i in range(n):
        typ, make, _ = rng.choices(TYPES, weights)[0]
        bad = rng.random() * 100 < pct
        module = f"module.svc{i % 40}" if i % 3 else None
        name = f"r{i // 40}"
        addr = f"{typ}.{name}"
        full = f"{module}.{addr}" if module else addr
        after = make(rng, i, bad)
        computed = COMPUTED[typ]
        prior = {k: computed_value(rng, typ, k, i) for k in ["id"] + computed}
        roll = rng.random()
        reason = None
        if roll < 0.70:
            actions, before = ["create"], None
        elif roll < 0.90:
            actions, before = ["update"], dict(make(rng, i, False), **prior)
            before["tags"] = dict(after.get("tags") or {}, revision="1") if "tags" in after else before.get("tags")
            after = dict(after, **prior)
        elif roll < 0.95:
            after = dict(after, **prior)
            actions, before = ["no-op"], after
        elif roll < 0.98:
            actions, before, after = ["delete"], dict(after, **prior), None
        else:
            actions, before = ["create", "delete"], dict(make(rng, i, False), **prior)
            reason = "replace_because_cannot_update"
        if actions in (["create"], ["create", "delete"]):
            unknown = unknown_mirror(after)
            unknown.update({k: True for k in ["id"] + computed})
            for k in ["id"] + computed:
                after.pop(k, None)
        elif after is not None:
            unknown = unknown_mirror(after)
        else:
            unknown = {}
        secret = SECRET.get(typ, ())
        rc = {"address": full, "mode": "managed", "type": typ, "name": name,
              "provider_name": "registry.terraform.io/hashicorp/aws",
              "change": {"actions": actions, "before": before, "after": after,
                         "after_unknown": unknown,
                         "before_sensitive": sensitive_mirror(before, secret) if before is not None else False,
                         "after_sensitive": sensitive_mirror(after, secret) if after is not None else False}}
        if reason:
            rc["action_reason"] = reason
            rc["change"]["replace_paths"] = [[FORCE_NEW[typ]]]
        if module:
            rc["module_address"] = module
        changes.append(rc)
        key = (module, addr)
        if key not in config_resources:
            refs = []
            if typ == "aws_instance":
                refs = ["aws_security_group.r0.id", "aws_security_group.r0"]
            expressions = {k: {"constant_value": v} for k, v in list(after_or(rc).items())[:4]
                           if isinstance(v, (str, int, bool)) and k not in SECRET.get(typ, ())}
            expressions["tags"] = {"references": refs + ["local.common_tags"]}
            config_resources[key] = {"address": addr, "mode": "managed", "type": typ, "name": name,
                                     "provider_config_key": "aws", "expressions": expressions,
                                     "schema_version": 0}
    pv_root, pv_children = [], {}
    for rc in changes:
        if rc["change"]["after"] is None:
            continue
        pv = {"address": rc["address"], "mode": "managed", "type": rc["type"], "name": rc["name"],
              "provider_name": rc["provider_name"], "schema_version": 0,
              "values": rc["change"]["after"],
              "sensitive_values": sensitive_mirror(rc["change"]["after"], SECRET.get(rc["type"], ()))}
        if "module_address" in rc:
            pv_children.setdefault(rc["module_address"], []).append(pv)
        else:
            pv_root.append(pv)
    prior = [{"address": rc["address"], "mode": "managed", "type": rc["type"], "name": rc["name"],
              "provider_name": rc["provider_name"], "schema_version": 0,
              "values": rc["change"]["before"],
              "sensitive_values": sensitive_mirror(rc["change"]["before"], SECRET.get(rc["type"], ()))}
             for rc in changes if rc["change"]["before"] is not None]
    root, calls = [], {}
    for (module, _), res in config_resources.items():
        if module is None:
            root.append(res)
        else:
            calls.setdefault(module.split(".", 1)[1], []).append(res)
    plan = {
        "format_version": "1.2", "terraform_version": "1.9.8",
        "variables": {"region": {"value": "us-east-1"}, "environment": {"value": "prod"}},
        "planned_values": {"root_module": {"resources": pv_root, "child_modules": [
            {"address": m, "resources": r} for m, r in pv_children.items()]}},
        "resource_changes": changes,
        "prior_state": {"format_version": "1.0", "terraform_version": "1.9.8",
                        "values": {"root_module": {"resources": prior}}},
        "relevant_attributes": [{"resource": rc["address"], "attribute": ["tags"]}
                                for rc in changes if rc["change"]["actions"] == ["update"]],
        "configuration": {"provider_config": {"aws": {"name": "aws", "full_name": "registry.terraform.io/hashicorp/aws",
                                                      "expressions": {"region": {"references": ["var.region"]}}}},
                          "root_module": {"resources": root,
                                          "variables": {"region": {"default": "us-east-1"},
                                                        "environment": {"description": "stage"}},
                                          "module_calls": {k: {"source": "./modules/svc", "module": {"resources": v}}
                                                           for k, v in calls.items()}}},
        "timestamp": "2026-11-20T10:00:00Z", "applyable": True, "complete": True, "errored": False,
    }
    with open(out, "w") as f:
        json.dump(plan, f, separators=(",", ":"))


if __name__ == "__main__":
    main()
