#!/usr/bin/env python3
"""Writes further hand-made scenarios of the kind in ../scenarios (plan JSON in
the shape `terraform show -json` prints for the AWS provider, a stack file and
the expected verdict), used to check that the default rules and weights hold
for the general case and not only for the supplied examples.

Run: python3 tests/scenarios-extra/make.py   (rewrites the files beside it)
"""
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
T = lambda env: {"Environment": env, "Team": "payments", "ManagedBy": "terraform"}


def rc(address, typ, actions, before, after, unknown=None, reason=None):
    name = address.split(".")[-1].split("[")[0]
    r = {"address": address, "mode": "managed", "type": typ, "name": name,
         "provider_name": "registry.terraform.io/hashicorp/aws",
         "change": {"actions": actions, "before": before, "after": after,
                    "after_unknown": unknown or ({} if after is not None else {}),
                    "before_sensitive": {} if before is not None else False,
                    "after_sensitive": {} if after is not None else False}}
    if address.startswith("module."):
        r["module_address"] = ".".join(address.split(".")[:2])
    if reason:
        r["action_reason"] = reason
    return r


def plan(changes):
    return {"format_version": "1.2", "terraform_version": "1.9.8", "resource_changes": changes,
            "planned_values": {"root_module": {}},
            "configuration": {"root_module": {"resources": [
                {"address": c["address"].split("[")[0], "mode": "managed", "type": c["type"], "name": c["name"],
                 "expressions": {}} for c in changes if not c["address"].startswith("module.")]}},
            "timestamp": "2026-11-20T10:00:00Z", "applyable": True, "complete": True, "errored": False}


def db(env, **kw):
    d = {"allocated_storage": 100, "backup_retention_period": 7, "db_subnet_group_name": "private",
         "deletion_protection": True, "engine": "postgres", "engine_version": "15.7",
         "iam_database_authentication_enabled": True, "identifier": "orders", "instance_class": "db.r6g.large",
         "kms_key_id": "arn:aws:kms:us-east-1:123456789012:key/1111-2222", "multi_az": True,
         "performance_insights_enabled": True, "publicly_accessible": False, "skip_final_snapshot": False,
         "storage_encrypted": True, "storage_type": "gp3", "tags": T(env), "tags_all": T(env), "username": "app",
         "vpc_security_group_ids": ["sg-db0123456789"], "password": None}
    d.update(kw)
    return d


def sg_rule(port, cidr, typ="ingress", proto="tcp"):
    return {"cidr_blocks": [cidr] if ":" not in cidr else [], "ipv6_cidr_blocks": [cidr] if ":" in cidr else [],
            "description": "managed", "from_port": port, "to_port": port, "protocol": proto,
            "prefix_list_ids": [], "security_group_id": "sg-0123456789abcdef0", "self": False,
            "source_security_group_id": None, "type": typ}


def policy(stmts):
    return json.dumps({"Version": "2012-10-17", "Statement": stmts})


def iam_policy(name, stmts, env):
    return {"description": name, "name": name, "name_prefix": None, "path": "/", "policy": policy(stmts),
            "tags": T(env), "tags_all": T(env)}


def bucket(name, env, **kw):
    b = {"bucket": name, "bucket_prefix": None, "force_destroy": False, "object_lock_enabled": False,
         "tags": T(env), "tags_all": T(env), "timeouts": None}
    b.update(kw)
    return b


def instance(env, itype="m6i.large", tokens="required", **kw):
    i = {"ami": "ami-0abcdef1234567890", "associate_public_ip_address": False, "ebs_optimized": True,
         "iam_instance_profile": "app", "instance_type": itype, "monitoring": True,
         "metadata_options": [{"http_endpoint": "enabled", "http_put_response_hop_limit": 1, "http_tokens": tokens,
                               "instance_metadata_tags": "disabled"}],
         "root_block_device": [{"delete_on_termination": True, "encrypted": True, "volume_size": 50, "volume_type": "gp3"}],
         "subnet_id": "subnet-0123", "tags": T(env), "tags_all": T(env), "user_data": None,
         "vpc_security_group_ids": ["sg-0123"]}
    i.update(kw)
    return i


S = []  # (name, expect, env, budget, changes)

# --- routine changes that must be approved ---
S.append(("lambda-memory-bump", "approve", "prod", 20000, [
    rc("aws_lambda_function.api", "aws_lambda_function", ["update"],
       {"function_name": "api", "memory_size": 256, "runtime": "python3.12", "timeout": 30, "role": "arn:aws:iam::123456789012:role/api",
        "handler": "app.handler", "environment": [{"variables": {"LOG_LEVEL": "info"}}], "tracing_config": [{"mode": "Active"}], "tags": T("prod")},
       {"function_name": "api", "memory_size": 512, "runtime": "python3.12", "timeout": 30, "role": "arn:aws:iam::123456789012:role/api",
        "handler": "app.handler", "environment": [{"variables": {"LOG_LEVEL": "info"}}], "tracing_config": [{"mode": "Active"}], "tags": T("prod")})]))
S.append(("new-encrypted-queue", "approve", "prod", 20000, [
    rc("aws_sqs_queue.events", "aws_sqs_queue", ["create"], None,
       {"name": "events", "delay_seconds": 0, "fifo_queue": False, "kms_master_key_id": "alias/aws/sqs",
        "message_retention_seconds": 345600, "sqs_managed_sse_enabled": False, "visibility_timeout_seconds": 30,
        "tags": T("prod"), "tags_all": T("prod")}, {"arn": True, "id": True, "url": True})]))
S.append(("rds-scale-up-class", "approve", "prod", 20000, [
    rc("aws_db_instance.orders", "aws_db_instance", ["update"], db("prod"), db("prod", instance_class="db.r6g.xlarge"))]))
S.append(("cloudwatch-alarm-added", "approve", "prod", 20000, [
    rc("aws_cloudwatch_metric_alarm.cpu_high", "aws_cloudwatch_metric_alarm", ["create"], None,
       {"alarm_name": "cpu-high", "comparison_operator": "GreaterThanThreshold", "evaluation_periods": 2,
        "metric_name": "CPUUtilization", "namespace": "AWS/EC2", "period": 300, "statistic": "Average", "threshold": 80,
        "alarm_actions": ["arn:aws:sns:us-east-1:123456789012:ops"], "tags": T("prod"), "tags_all": T("prod")},
       {"arn": True, "id": True})]))
S.append(("private-bucket-with-pab", "approve", "prod", 20000, [
    rc("aws_s3_bucket.reports", "aws_s3_bucket", ["create"], None, bucket("acme-reports", "prod"), {"arn": True, "id": True}),
    rc("aws_s3_bucket_public_access_block.reports", "aws_s3_bucket_public_access_block", ["create"], None,
       {"block_public_acls": True, "block_public_policy": True, "ignore_public_acls": True, "restrict_public_buckets": True, "bucket": "acme-reports"}),
    rc("aws_s3_bucket_server_side_encryption_configuration.reports", "aws_s3_bucket_server_side_encryption_configuration", ["create"], None,
       {"bucket": "acme-reports", "rule": [{"apply_server_side_encryption_by_default": [{"sse_algorithm": "aws:kms", "kms_master_key_id": None}], "bucket_key_enabled": True}]}),
]))
S.append(("instance-type-change-dev", "approve", "dev", 1500, [
    rc("aws_instance.worker", "aws_instance", ["update"], instance("dev", "t3.medium"), instance("dev", "t3.large"))]))
S.append(("sg-https-from-alb", "approve", "prod", 20000, [
    rc("aws_security_group_rule.https_from_alb", "aws_security_group_rule", ["create"], None,
       dict(sg_rule(443, "10.0.0.0/16"), cidr_blocks=[], source_security_group_id="sg-alb012345"), {"id": True})]))
S.append(("public-https-on-alb", "approve", "prod", 20000, [
    rc("aws_security_group_rule.alb_https", "aws_security_group_rule", ["create"], None, sg_rule(443, "0.0.0.0/0"), {"id": True})]))

# --- forbidden changes that must be rejected ---
S.append(("rdp-open-to-world", "reject", "prod", 20000, [
    rc("aws_security_group_rule.rdp", "aws_security_group_rule", ["create"], None, sg_rule(3389, "0.0.0.0/0"), {"id": True})]))
S.append(("postgres-open-ipv6", "reject", "prod", 20000, [
    rc("aws_security_group_rule.pg", "aws_security_group_rule", ["create"], None, sg_rule(5432, "::/0"), {"id": True})]))
S.append(("rds-made-public", "reject", "prod", 20000, [
    rc("aws_db_instance.orders", "aws_db_instance", ["update"], db("prod"), db("prod", publicly_accessible=True))]))
S.append(("bucket-public-read-acl", "reject", "prod", 20000, [
    rc("aws_s3_bucket_acl.site", "aws_s3_bucket_acl", ["create"], None,
       {"acl": "public-read", "bucket": "acme-site", "expected_bucket_owner": None, "access_control_policy": []}, {"id": True})]))
S.append(("role-trusts-everyone", "reject", "prod", 20000, [
    rc("aws_iam_role.deployer", "aws_iam_role", ["create"], None,
       {"name": "deployer", "path": "/", "max_session_duration": 3600,
        "assume_role_policy": policy([{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]),
        "tags": T("prod"), "tags_all": T("prod")}, {"arn": True, "id": True, "unique_id": True})]))
S.append(("admin-inline-role-policy", "reject", "staging", 5000, [
    rc("aws_iam_role_policy.agent", "aws_iam_role_policy", ["create"], None,
       {"name": "agent", "role": "agent", "policy": policy([{"Effect": "Allow", "Action": ["*"], "Resource": ["*"]}])}, {"id": True})]))

# --- changes a person must see ---
S.append(("delete-prod-bucket", "escalate", "prod", 20000, [
    rc("aws_s3_bucket.archive", "aws_s3_bucket", ["delete"], bucket("acme-archive", "prod"), None)]))
S.append(("replace-db-new-engine-version", "escalate", "prod", 20000, [
    rc("aws_db_instance.orders", "aws_db_instance", ["delete", "create"], db("prod"), db("prod", engine="mysql", engine_version="8.0"),
       {"arn": True, "id": True}, reason="replace_because_cannot_update")]))
S.append(("passrole-on-star", "escalate", "prod", 20000, [
    rc("aws_iam_policy.ci", "aws_iam_policy", ["create"], None,
       iam_policy("ci", [{"Effect": "Allow", "Action": ["iam:PassRole", "ecs:RunTask"], "Resource": "*"}], "prod"), {"arn": True, "id": True})]))
S.append(("eks-public-endpoint", "escalate", "prod", 20000, [
    rc("aws_eks_cluster.main", "aws_eks_cluster", ["create"], None,
       {"name": "main", "role_arn": "arn:aws:iam::123456789012:role/eks", "version": "1.30",
        "vpc_config": [{"endpoint_private_access": True, "endpoint_public_access": True, "public_access_cidrs": ["0.0.0.0/0"],
                        "subnet_ids": ["subnet-1", "subnet-2"], "security_group_ids": []}],
        "encryption_config": [], "enabled_cluster_log_types": ["api", "audit"], "tags": T("prod")}, {"arn": True, "id": True})]))
S.append(("delete-vpc", "escalate", "prod", 20000, [
    rc("aws_vpc.main", "aws_vpc", ["delete"], {"cidr_block": "10.0.0.0/16", "enable_dns_hostnames": True, "id": "vpc-0a1b", "tags": T("prod")}, None)]))
S.append(("kms-key-scheduled-deletion", "escalate", "prod", 20000, [
    rc("aws_kms_key.data", "aws_kms_key", ["delete"],
       {"description": "data key", "deletion_window_in_days": 30, "enable_key_rotation": True, "is_enabled": True, "key_usage": "ENCRYPT_DECRYPT",
        "tags": T("prod")}, None)]))
S.append(("ssm-plaintext-password", "escalate", "prod", 20000, [
    rc("aws_ssm_parameter.db_password", "aws_ssm_parameter", ["create"], None,
       {"name": "/orders/db_password", "type": "String", "value": "hunter2-not-a-secret", "tier": "Standard", "tags": T("prod")},
       {"arn": True, "id": True, "version": True})]))
S.append(("gpu-in-prod", "escalate", "prod", 20000, [
    rc("aws_instance.trainer", "aws_instance", ["create"], None, instance("prod", "p4d.24xlarge"), {"arn": True, "id": True})]))
S.append(("mass-delete-dev-is-ok-but-prod-is-not", "escalate", "prod", 20000, [
    rc(f"aws_instance.web[{i}]", "aws_instance", ["delete"], instance("prod"), None) for i in range(12)]))


def main():
    rows = ["name\texpect\tenvironment\tmonthly_budget_usd"]
    for name, expect, env, budget, changes in S:
        with open(os.path.join(HERE, f"{name}.plan.json"), "w") as f:
            json.dump(plan(changes), f, indent=2)
        with open(os.path.join(HERE, f"{name}.stack.toml"), "w") as f:
            f.write(f'name = "{name}"\nenvironment = "{env}"\nmonthly_budget_usd = {budget}\n')
        rows.append(f"{name}\t{expect}\t{env}\t{budget}")
    with open(os.path.join(HERE, "expected.tsv"), "w") as f:
        f.write("\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
