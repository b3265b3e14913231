#!/usr/bin/env python3
"""Writes the "weakening" scenarios: mostly *updates* of existing production
resources that weaken a control (encryption, TLS, metadata service, logging,
deletion protection, backups, public access, network paths, IAM trust,
account-level controls) on AWS, Azure and Google Cloud, plus routine updates
that must stay approved. Each scenario is a plan in the shape
`terraform show -json` prints (format 1.2: resource_changes with
before/after/after_unknown/before_sensitive/after_sensitive, prior_state,
configuration with provider_config and expressions, planned_values), a stack
file and a row of expected.tsv.

Run: python3 tests/scenarios/weakening/make.py   (rewrites the files beside it)
"""
import copy
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ACCOUNT = "123456789012"

PROVIDERS = {
    "aws": ("registry.terraform.io/hashicorp/aws", {"region": {"constant_value": "us-east-1"}}),
    "azurerm": ("registry.terraform.io/hashicorp/azurerm", {"features": [{}]}),
    "google": ("registry.terraform.io/hashicorp/google",
               {"project": {"constant_value": "acme-prod"}, "region": {"constant_value": "europe-west1"}}),
}


def tags(env, **extra):
    t = {"Environment": env, "Team": "payments", "ManagedBy": "terraform"}
    t.update(extra)
    return t


def provider_of(typ):
    return typ.split("_")[0]


def rc(address, typ, actions, before, after, unknown=None, reason=None,
       before_sensitive=None, after_sensitive=None):
    """One resource_changes entry. `before` is the prior state (None for a
    create), `after` the planned state (None for a delete) without the values
    known only at apply, which are `true` in `unknown` (as Terraform prints them)."""
    name = address.split(".")[-1].split("[")[0]
    r = {"address": address, "mode": "managed", "type": typ, "name": name,
         "provider_name": PROVIDERS[provider_of(typ)][0],
         "change": {"actions": actions, "before": before, "after": after,
                    "after_unknown": unknown or {},
                    "before_sensitive": (before_sensitive or {}) if before is not None else False,
                    "after_sensitive": (after_sensitive or {}) if after is not None else False}}
    if reason:
        r["action_reason"] = reason
    return r


def update(address, typ, before, **changes):
    """An in-place update of `before` with `changes` applied."""
    after = copy.deepcopy(before)
    after.update(changes)
    return rc(address, typ, ["update"], before, after)


def _state_resource(c, values):
    return {"address": c["address"], "mode": "managed", "type": c["type"], "name": c["name"],
            "provider_name": c["provider_name"], "schema_version": 0, "values": values,
            "sensitive_values": {}}


def _expressions(values):
    """The configuration expressions of the literal top-level arguments (what
    `terraform show -json` prints for constants; computed ids are left out)."""
    out = {}
    for k, v in (values or {}).items():
        if k in ("id", "arn", "tags_all") or v is None:
            continue
        if isinstance(v, (str, int, float, bool)) or (isinstance(v, list) and all(isinstance(x, str) for x in v)) \
                or (isinstance(v, dict) and all(isinstance(x, str) for x in v.values())):
            out[k] = {"constant_value": v}
    return out


def plan(changes):
    used = sorted({provider_of(c["type"]) for c in changes})
    planned = [_state_resource(c, c["change"]["after"]) for c in changes if c["change"]["after"] is not None]
    prior = [_state_resource(c, c["change"]["before"]) for c in changes if c["change"]["before"] is not None]
    p = {
        "format_version": "1.2",
        "terraform_version": "1.9.8",
        "planned_values": {"root_module": {"resources": planned}},
        "resource_changes": changes,
        "configuration": {
            "provider_config": {k: {"name": k, "full_name": PROVIDERS[k][0], "expressions": PROVIDERS[k][1]}
                                for k in used},
            "root_module": {"resources": [
                {"address": c["address"], "mode": "managed", "type": c["type"], "name": c["name"],
                 "provider_config_key": provider_of(c["type"]),
                 "expressions": _expressions(c["change"]["after"]), "schema_version": 0}
                for c in changes if c["change"]["after"] is not None]},
        },
        "timestamp": "2026-12-01T10:00:00Z",
        "applyable": True,
        "complete": True,
        "errored": False,
    }
    if prior:
        p["prior_state"] = {"format_version": "1.0", "terraform_version": "1.9.8",
                            "values": {"root_module": {"resources": prior}}}
    return p


# --------------------------------------------------------------------------
# Existing production resources (prior state)
# --------------------------------------------------------------------------

def instance(env="prod", tokens="required"):
    return {"ami": "ami-0c7217cdde317cfec", "arn": f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/i-0abc123def4567890",
            "associate_public_ip_address": False, "availability_zone": "us-east-1a", "ebs_optimized": True,
            "iam_instance_profile": "app-profile", "id": "i-0abc123def4567890", "instance_type": "m6i.large",
            "key_name": None, "monitoring": True,
            "metadata_options": [{"http_endpoint": "enabled", "http_put_response_hop_limit": 1,
                                  "http_tokens": tokens, "instance_metadata_tags": "disabled"}],
            "private_ip": "10.0.1.25", "public_ip": "",
            "root_block_device": [{"delete_on_termination": True, "encrypted": True, "iops": 3000,
                                   "kms_key_id": f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1111-2222",
                                   "throughput": 125, "volume_size": 50, "volume_type": "gp3"}],
            "subnet_id": "subnet-0a1b2c3d", "tags": tags(env), "tags_all": tags(env), "tenancy": "default",
            "user_data": None, "vpc_security_group_ids": ["sg-0123456789abcdef0"]}


def launch_template(tokens="required"):
    return {"arn": f"arn:aws:ec2:us-east-1:{ACCOUNT}:launch-template/lt-0a1b2c3d", "id": "lt-0a1b2c3d",
            "name": "web", "image_id": "ami-0c7217cdde317cfec", "instance_type": "m6i.large",
            "default_version": 4, "latest_version": 4, "update_default_version": True,
            "block_device_mappings": [{"device_name": "/dev/xvda", "ebs": [{"encrypted": "true", "volume_size": 50,
                                                                           "volume_type": "gp3", "kms_key_id": ""}]}],
            "metadata_options": [{"http_endpoint": "enabled", "http_put_response_hop_limit": 1, "http_tokens": tokens,
                                  "http_protocol_ipv6": "disabled", "instance_metadata_tags": "disabled"}],
            "network_interfaces": [], "vpc_security_group_ids": ["sg-0123456789abcdef0"], "user_data": None,
            "tags": tags("prod"), "tags_all": tags("prod")}


def db(env="prod", **kw):
    d = {"allocated_storage": 100, "arn": f"arn:aws:rds:us-east-1:{ACCOUNT}:db:orders", "auto_minor_version_upgrade": True,
         "backup_retention_period": 7, "backup_window": "03:00-04:00", "db_subnet_group_name": "private",
         "deletion_protection": True, "engine": "postgres", "engine_version": "15.7", "id": "db-ABCDEFGHIJKL",
         "iam_database_authentication_enabled": True, "identifier": "orders", "instance_class": "db.r6g.large",
         "kms_key_id": f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1111-2222", "multi_az": True,
         "parameter_group_name": "orders-pg15", "performance_insights_enabled": True, "publicly_accessible": False,
         "skip_final_snapshot": False, "storage_encrypted": True, "storage_type": "gp3", "tags": tags(env),
         "tags_all": tags(env), "username": "app", "vpc_security_group_ids": ["sg-db0123456789"], "password": None}
    d.update(kw)
    return d


DB_SENSITIVE = {"password": True}


def trail(**kw):
    t = {"arn": f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/org-trail", "id": "org-trail", "name": "org-trail",
         "s3_bucket_name": "acme-cloudtrail", "enable_logging": True, "enable_log_file_validation": True,
         "include_global_service_events": True, "is_multi_region_trail": True, "is_organization_trail": False,
         "kms_key_id": f"arn:aws:kms:us-east-1:{ACCOUNT}:key/3333-4444",
         "cloud_watch_logs_group_arn": f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:cloudtrail:*",
         "cloud_watch_logs_role_arn": f"arn:aws:iam::{ACCOUNT}:role/cloudtrail-logs",
         "event_selector": [], "insight_selector": [], "tags": tags("prod"), "tags_all": tags("prod")}
    t.update(kw)
    return t


def alb(**kw):
    a = {"arn": f"arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT}:loadbalancer/app/web/50dc6c495c0c9188",
         "id": f"arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT}:loadbalancer/app/web/50dc6c495c0c9188",
         "name": "web", "internal": False, "load_balancer_type": "application", "enable_deletion_protection": True,
         "drop_invalid_header_fields": True, "idle_timeout": 60, "ip_address_type": "ipv4",
         "access_logs": [{"bucket": "acme-lb-logs", "enabled": True, "prefix": "web"}],
         "security_groups": ["sg-alb012345"], "subnets": ["subnet-pub-a", "subnet-pub-b"],
         "dns_name": "web-1234567890.us-east-1.elb.amazonaws.com", "tags": tags("prod"), "tags_all": tags("prod")}
    a.update(kw)
    return a


def listener(policy):
    return {"arn": f"arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT}:listener/app/web/50dc6c495c0c9188/f2f7dc8efc522ab2",
            "id": f"arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT}:listener/app/web/50dc6c495c0c9188/f2f7dc8efc522ab2",
            "load_balancer_arn": alb()["arn"], "port": 443, "protocol": "HTTPS", "ssl_policy": policy,
            "certificate_arn": f"arn:aws:acm:us-east-1:{ACCOUNT}:certificate/9f8e7d6c",
            "alpn_policy": None, "default_action": [{"type": "forward", "order": 1,
                                                     "target_group_arn": f"arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT}:targetgroup/web/6d0ecf831eec9f09"}],
            "tags": tags("prod"), "tags_all": tags("prod")}


def distribution(min_tls="TLSv1.2_2021", comment="storefront"):
    return {"arn": f"arn:aws:cloudfront::{ACCOUNT}:distribution/E2QWRUHAPOMQZL", "id": "E2QWRUHAPOMQZL",
            "aliases": ["www.example.com"], "comment": comment, "enabled": True, "http_version": "http2and3",
            "is_ipv6_enabled": True, "price_class": "PriceClass_100", "web_acl_id": f"arn:aws:wafv2:us-east-1:{ACCOUNT}:global/webacl/edge/abc",
            "default_cache_behavior": [{"allowed_methods": ["GET", "HEAD"], "cached_methods": ["GET", "HEAD"],
                                        "target_origin_id": "alb", "viewer_protocol_policy": "redirect-to-https",
                                        "compress": True, "cache_policy_id": "658327ea-f89d-4fab-a63d-7e88639e58f6"}],
            "origin": [{"domain_name": "web-1234567890.us-east-1.elb.amazonaws.com", "origin_id": "alb",
                        "custom_origin_config": [{"http_port": 80, "https_port": 443, "origin_protocol_policy": "https-only",
                                                  "origin_ssl_protocols": ["TLSv1.2"]}]}],
            "logging_config": [{"bucket": "acme-cf-logs.s3.amazonaws.com", "include_cookies": False, "prefix": "www"}],
            "restrictions": [{"geo_restriction": [{"restriction_type": "none", "locations": []}]}],
            "viewer_certificate": [{"acm_certificate_arn": f"arn:aws:acm:us-east-1:{ACCOUNT}:certificate/9f8e7d6c",
                                    "cloudfront_default_certificate": False, "minimum_protocol_version": min_tls,
                                    "ssl_support_method": "sni-only"}],
            "tags": tags("prod"), "tags_all": tags("prod")}


def redis(**kw):
    r = {"arn": f"arn:aws:elasticache:us-east-1:{ACCOUNT}:replicationgroup:sessions", "id": "sessions",
         "replication_group_id": "sessions", "description": "session store", "engine": "redis", "engine_version": "7.1",
         "node_type": "cache.r7g.large", "num_cache_clusters": 2, "automatic_failover_enabled": True, "multi_az_enabled": True,
         "at_rest_encryption_enabled": True, "transit_encryption_enabled": True, "transit_encryption_mode": "required",
         "kms_key_id": f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1111-2222", "auth_token": None,
         "port": 6379, "subnet_group_name": "private-cache", "security_group_ids": ["sg-cache0123"],
         "snapshot_retention_limit": 7, "tags": tags("prod"), "tags_all": tags("prod")}
    r.update(kw)
    return r


def param_group(force_ssl):
    return {"arn": f"arn:aws:rds:us-east-1:{ACCOUNT}:pg:orders-pg15", "id": "orders-pg15", "name": "orders-pg15",
            "family": "postgres15", "description": "orders database parameters", "name_prefix": None,
            "parameter": [{"apply_method": "immediate", "name": "log_min_duration_statement", "value": "500"},
                          {"apply_method": "pending-reboot", "name": "rds.force_ssl", "value": force_ssl}],
            "tags": tags("prod"), "tags_all": tags("prod")}


def bucket_pab(v=True):
    return {"block_public_acls": v, "block_public_policy": v, "bucket": "acme-orders-exports", "id": "acme-orders-exports",
            "ignore_public_acls": v, "restrict_public_buckets": v}


def account_pab(v=True):
    return {"account_id": ACCOUNT, "id": ACCOUNT, "block_public_acls": v, "block_public_policy": v,
            "ignore_public_acls": v, "restrict_public_buckets": v}


def cluster_instance(public=False):
    return {"arn": f"arn:aws:rds:us-east-1:{ACCOUNT}:db:ledger-1", "id": "ledger-1", "identifier": "ledger-1",
            "cluster_identifier": "ledger", "engine": "aurora-postgresql", "engine_version": "15.4",
            "instance_class": "db.r6g.large", "publicly_accessible": public, "db_subnet_group_name": "private",
            "auto_minor_version_upgrade": True, "performance_insights_enabled": True, "promotion_tier": 0,
            "tags": tags("prod"), "tags_all": tags("prod")}


def eks(public=False, cidrs=None):
    return {"arn": f"arn:aws:eks:us-east-1:{ACCOUNT}:cluster/main", "id": "main", "name": "main",
            "role_arn": f"arn:aws:iam::{ACCOUNT}:role/eks-cluster", "version": "1.30",
            "endpoint": "https://ABCDEF0123456789.gr7.us-east-1.eks.amazonaws.com",
            "enabled_cluster_log_types": ["api", "audit", "authenticator", "controllerManager", "scheduler"],
            "encryption_config": [{"resources": ["secrets"], "provider": [{"key_arn": f"arn:aws:kms:us-east-1:{ACCOUNT}:key/5555-6666"}]}],
            "vpc_config": [{"endpoint_private_access": True, "endpoint_public_access": public,
                            "public_access_cidrs": cidrs if cidrs is not None else ["0.0.0.0/0"],
                            "security_group_ids": ["sg-eks0123"], "subnet_ids": ["subnet-priv-a", "subnet-priv-b"],
                            "cluster_security_group_id": "sg-eks-cluster", "vpc_id": "vpc-0a1b"}],
            "tags": tags("prod"), "tags_all": tags("prod")}


def sg(name, description, ingress, egress, tag_name=None):
    return {"arn": f"arn:aws:ec2:us-east-1:{ACCOUNT}:security-group/sg-{name}", "id": f"sg-{name}",
            "name": name, "name_prefix": "", "description": description, "vpc_id": "vpc-0a1b",
            "owner_id": ACCOUNT, "revoke_rules_on_delete": False, "ingress": ingress, "egress": egress,
            "tags": tags("prod", Name=tag_name or name), "tags_all": tags("prod", Name=tag_name or name), "timeouts": None}


def sg_block(port, cidrs, desc, proto="tcp", to=None, sgs=None):
    return {"cidr_blocks": cidrs, "description": desc, "from_port": port, "to_port": to if to is not None else port,
            "ipv6_cidr_blocks": [], "prefix_list_ids": [], "protocol": proto, "security_groups": sgs or [], "self": False}


def role(trust, description="deploys the payments service", **kw):
    r = {"arn": f"arn:aws:iam::{ACCOUNT}:role/payments-deployer", "id": "payments-deployer", "name": "payments-deployer",
         "name_prefix": "", "path": "/", "description": description, "max_session_duration": 3600,
         "assume_role_policy": json.dumps({"Version": "2012-10-17", "Statement": trust}),
         "force_detach_policies": False, "managed_policy_arns": [], "inline_policy": [], "permissions_boundary": None,
         "unique_id": "AROAEXAMPLE123456789", "create_date": "2025-03-01T09:00:00Z",
         "tags": tags("prod"), "tags_all": tags("prod")}
    r.update(kw)
    return r


def own_trust():
    return [{"Effect": "Allow", "Principal": {"Service": "codebuild.amazonaws.com"}, "Action": "sts:AssumeRole"},
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/ci-runner"}, "Action": "sts:AssumeRole"}]


def kms_key(rotation=True, description="payments data key"):
    return {"arn": f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1111-2222", "id": "1111-2222", "key_id": "1111-2222",
            "description": description, "customer_master_key_spec": "SYMMETRIC_DEFAULT", "key_usage": "ENCRYPT_DECRYPT",
            "deletion_window_in_days": 30, "enable_key_rotation": rotation, "rotation_period_in_days": 365 if rotation else 0,
            "is_enabled": True, "multi_region": False, "bypass_policy_lockout_safety_check": False,
            "policy": json.dumps({"Version": "2012-10-17", "Statement": [
                {"Sid": "Root", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                 "Action": "kms:*", "Resource": "*"}]}),
            "tags": tags("prod"), "tags_all": tags("prod")}


def queue(sse=True):
    return {"arn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:orders-events", "id": f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/orders-events",
            "url": f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/orders-events", "name": "orders-events",
            "delay_seconds": 0, "fifo_queue": False, "kms_master_key_id": None, "kms_data_key_reuse_period_seconds": 300,
            "max_message_size": 262144, "message_retention_seconds": 345600, "receive_wait_time_seconds": 20,
            "sqs_managed_sse_enabled": sse, "visibility_timeout_seconds": 60, "policy": "",
            "redrive_policy": json.dumps({"deadLetterTargetArn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:orders-events-dlq", "maxReceiveCount": 5}),
            "tags": tags("prod"), "tags_all": tags("prod")}


def function_url(auth):
    return {"id": "refunds", "function_name": "refunds", "qualifier": "", "authorization_type": auth,
            "function_arn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:refunds",
            "function_url": "https://abcdefghijklmnop.lambda-url.us-east-1.on.aws/", "url_id": "abcdefghijklmnop",
            "invoke_mode": "BUFFERED", "cors": []}


def lambda_fn(timeout=30, description="issues refunds"):
    return {"arn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:refunds", "id": "refunds", "function_name": "refunds",
            "description": description, "handler": "app.handler", "runtime": "python3.12", "memory_size": 512,
            "timeout": timeout, "role": f"arn:aws:iam::{ACCOUNT}:role/refunds", "architectures": ["arm64"],
            "environment": [{"variables": {"LOG_LEVEL": "info", "TABLE": "refunds"}}],
            "dead_letter_config": [{"target_arn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:refunds-dlq"}],
            "tracing_config": [{"mode": "Active"}], "kms_key_arn": "", "publish": False, "reserved_concurrent_executions": -1,
            "vpc_config": [], "tags": tags("prod"), "tags_all": tags("prod")}


def route_table(routes, name="private-a"):
    return {"arn": f"arn:aws:ec2:us-east-1:{ACCOUNT}:route-table/rtb-{name}", "id": f"rtb-{name}", "owner_id": ACCOUNT,
            "vpc_id": "vpc-0a1b", "propagating_vgws": [], "route": routes,
            "tags": tags("prod", Name=name, Tier="private"), "tags_all": tags("prod", Name=name, Tier="private"),
            "timeouts": None}


def route(cidr, **target):
    r = {"cidr_block": cidr, "ipv6_cidr_block": "", "destination_prefix_list_id": "", "carrier_gateway_id": "",
         "core_network_arn": "", "egress_only_gateway_id": "", "gateway_id": "", "local_gateway_id": "",
         "nat_gateway_id": "", "network_interface_id": "", "transit_gateway_id": "", "vpc_endpoint_id": "",
         "vpc_peering_connection_id": ""}
    r.update(target)
    return r


def subnet(public_ip=False):
    return {"arn": f"arn:aws:ec2:us-east-1:{ACCOUNT}:subnet/subnet-priv-a", "id": "subnet-priv-a", "vpc_id": "vpc-0a1b",
            "cidr_block": "10.0.16.0/20", "availability_zone": "us-east-1a", "map_public_ip_on_launch": public_ip,
            "assign_ipv6_address_on_creation": False, "enable_dns64": False, "ipv6_cidr_block": "", "owner_id": ACCOUNT,
            "tags": tags("prod", Name="private-a", Tier="private"), "tags_all": tags("prod", Name="private-a", Tier="private")}


def detector(enable=True):
    return {"arn": f"arn:aws:guardduty:us-east-1:{ACCOUNT}:detector/12abc34d567e8fa901bc2d34e56789f0",
            "id": "12abc34d567e8fa901bc2d34e56789f0", "account_id": ACCOUNT, "enable": enable,
            "finding_publishing_frequency": "FIFTEEN_MINUTES", "datasources": [],
            "tags": tags("prod"), "tags_all": tags("prod")}


def asg(desired):
    return {"arn": f"arn:aws:autoscaling:us-east-1:{ACCOUNT}:autoScalingGroup:uuid:autoScalingGroupName/web", "id": "web",
            "name": "web", "min_size": 2, "max_size": 12, "desired_capacity": desired, "health_check_type": "ELB",
            "health_check_grace_period": 300, "vpc_zone_identifier": ["subnet-priv-a", "subnet-priv-b"],
            "launch_template": [{"id": "lt-0a1b2c3d", "name": "web", "version": "$Latest"}],
            "target_group_arns": [f"arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT}:targetgroup/web/6d0ecf831eec9f09"],
            "termination_policies": [], "protect_from_scale_in": False,
            "tag": [{"key": "Environment", "propagate_at_launch": True, "value": "prod"}]}


def log_group(days):
    return {"arn": f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/lambda/refunds", "id": "/aws/lambda/refunds",
            "name": "/aws/lambda/refunds", "name_prefix": "", "retention_in_days": days, "log_group_class": "STANDARD",
            "kms_key_id": f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1111-2222", "skip_destroy": False,
            "tags": tags("prod"), "tags_all": tags("prod")}


def s3_bucket(t):
    return {"arn": "arn:aws:s3:::acme-orders-exports", "id": "acme-orders-exports", "bucket": "acme-orders-exports",
            "bucket_prefix": "", "bucket_domain_name": "acme-orders-exports.s3.amazonaws.com", "force_destroy": False,
            "object_lock_enabled": False, "region": "us-east-1", "hosted_zone_id": "Z3AQBSTGFYJSTF",
            "tags": t, "tags_all": t, "timeouts": None}


# ---- Azure ----
RG = "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/payments-prod"


def az_storage(**kw):
    s = {"id": f"{RG}/providers/Microsoft.Storage/storageAccounts/acmepaymentsprod", "name": "acmepaymentsprod",
         "resource_group_name": "payments-prod", "location": "westeurope", "account_kind": "StorageV2",
         "account_tier": "Standard", "account_replication_type": "GRS", "access_tier": "Hot",
         "min_tls_version": "TLS1_2", "https_traffic_only_enabled": True, "allow_nested_items_to_be_public": False,
         "shared_access_key_enabled": True, "public_network_access_enabled": True, "infrastructure_encryption_enabled": True,
         "network_rules": [{"default_action": "Deny", "bypass": ["AzureServices"], "ip_rules": [], "virtual_network_subnet_ids": []}],
         "blob_properties": [{"versioning_enabled": True, "delete_retention_policy": [{"days": 30}]}],
         "primary_access_key": None, "tags": {"environment": "prod", "team": "payments"}}
    s.update(kw)
    return s


AZ_STORAGE_SENSITIVE = {"primary_access_key": True}


def az_key_vault(purge):
    return {"name": "acme-payments-kv", "resource_group_name": "payments-prod", "location": "westeurope",
            "sku_name": "premium", "tenant_id": "55555555-6666-7777-8888-999999999999",
            "purge_protection_enabled": purge, "soft_delete_retention_days": 90, "enable_rbac_authorization": True,
            "public_network_access_enabled": False,
            "network_acls": [{"default_action": "Deny", "bypass": "AzureServices", "ip_rules": [], "virtual_network_subnet_ids": []}],
            "tags": {"environment": "prod", "team": "payments"}}


def az_sql_fw(start, end):
    return {"id": f"{RG}/providers/Microsoft.Sql/servers/acme-payments-sql/firewallRules/office", "name": "office",
            "server_id": f"{RG}/providers/Microsoft.Sql/servers/acme-payments-sql", "start_ip_address": start, "end_ip_address": end}


def az_nsg_rule(source):
    return {"id": f"{RG}/providers/Microsoft.Network/networkSecurityGroups/app/securityRules/rdp-admin", "name": "rdp-admin",
            "resource_group_name": "payments-prod", "network_security_group_name": "app", "priority": 200,
            "direction": "Inbound", "access": "Allow", "protocol": "Tcp", "source_port_range": "*",
            "destination_port_range": "3389", "source_address_prefix": source, "destination_address_prefix": "*",
            "source_port_ranges": [], "destination_port_ranges": [], "source_address_prefixes": [],
            "destination_address_prefixes": [], "description": "RDP for the operations jump host"}


# ---- Google Cloud ----

def gcs_binding(members):
    return {"id": "b/acme-payments-reports/roles/storage.objectViewer", "bucket": "b/acme-payments-reports",
            "role": "roles/storage.objectViewer", "members": members, "condition": [], "etag": "CAE="}


def cloud_sql(authorized=None, ssl_mode="ENCRYPTED_ONLY", labels=None):
    return {"name": "payments-pg", "database_version": "POSTGRES_15", "region": "europe-west1", "project": "acme-prod",
            "deletion_protection": True, "connection_name": "acme-prod:europe-west1:payments-pg",
            "settings": [{"tier": "db-custom-4-16384", "availability_type": "REGIONAL", "disk_autoresize": True,
                          "user_labels": labels or {"env": "prod"},
                          "backup_configuration": [{"enabled": True, "point_in_time_recovery_enabled": True,
                                                    "start_time": "02:00", "transaction_log_retention_days": 7}],
                          "ip_configuration": [{"ipv4_enabled": True, "private_network": "projects/acme-prod/global/networks/main",
                                                "ssl_mode": ssl_mode,
                                                "authorized_networks": authorized or [{"name": "office", "value": "203.0.113.0/24", "expiration_time": ""}]}],
                          "database_flags": []}],
            "root_password": None}


def gcp_firewall(ranges):
    return {"id": "projects/acme-prod/global/firewalls/allow-ssh-bastion", "name": "allow-ssh-bastion",
            "network": "projects/acme-prod/global/networks/main", "direction": "INGRESS", "priority": 1000,
            "allow": [{"protocol": "tcp", "ports": ["22"]}], "deny": [], "source_ranges": ranges,
            "target_tags": ["bastion"], "disabled": False, "project": "acme-prod", "log_config": []}


def gcs_bucket(labels):
    return {"id": "acme-payments-reports", "name": "acme-payments-reports", "location": "EU", "project": "acme-prod",
            "storage_class": "STANDARD", "uniform_bucket_level_access": True, "public_access_prevention": "enforced",
            "force_destroy": False, "versioning": [{"enabled": True}], "labels": labels,
            "self_link": "https://www.googleapis.com/storage/v1/b/acme-payments-reports", "url": "gs://acme-payments-reports"}


# --------------------------------------------------------------------------
# Scenarios: (name, expect, environment, budget, changes, what it shows)
# --------------------------------------------------------------------------
S = []


def add(name, expect, env, changes, note, budget=None):
    budget = budget or {"prod": 20000, "staging": 5000}.get(env, 1500)
    S.append((name, expect, env, budget, changes, note))


# ---- risky updates of existing production resources ----
add("ec2-imds-optional", "escalate", "prod",
    [update("aws_instance.api", "aws_instance", instance(),
            metadata_options=[dict(instance()["metadata_options"][0], http_tokens="optional")])],
    "instance metadata service switched back to IMDSv1 (http_tokens optional)")
add("launch-template-imds-optional", "escalate", "prod",
    [update("aws_launch_template.web", "aws_launch_template", launch_template(),
            metadata_options=[dict(launch_template()["metadata_options"][0], http_tokens="optional")],
            latest_version=4)],
    "launch template for the web fleet allows IMDSv1")
add("rds-storage-encryption-removed", "escalate", "prod",
    [rc("aws_db_instance.orders", "aws_db_instance", ["delete", "create"], db(),
        {k: v for k, v in db(storage_encrypted=False, kms_key_id=None).items() if k not in ("arn", "id")},
        unknown={"arn": True, "id": True}, reason="replace_because_cannot_update",
        before_sensitive=DB_SENSITIVE, after_sensitive=DB_SENSITIVE)],
    "RDS storage encryption switched off (forces replacement)")
add("ebs-default-encryption-off", "escalate", "prod",
    [update("aws_ebs_encryption_by_default.this", "aws_ebs_encryption_by_default", {"enabled": True, "id": "terraform-20250301"},
            enabled=False)],
    "account-level EBS encryption by default turned off")
add("alb-listener-tls10", "escalate", "prod",
    [update("aws_lb_listener.https", "aws_lb_listener", listener("ELBSecurityPolicy-TLS13-1-2-2021-06"),
            ssl_policy="ELBSecurityPolicy-TLS-1-0-2015-04")],
    "HTTPS listener downgraded to a policy that negotiates TLS 1.0")
add("cloudfront-min-tls-v1", "escalate", "prod",
    [update("aws_cloudfront_distribution.www", "aws_cloudfront_distribution", distribution(),
            viewer_certificate=[dict(distribution()["viewer_certificate"][0], minimum_protocol_version="TLSv1")])],
    "CloudFront viewer minimum protocol lowered to TLSv1")
add("elasticache-transit-encryption-off", "escalate", "prod",
    [update("aws_elasticache_replication_group.sessions", "aws_elasticache_replication_group", redis(),
            transit_encryption_enabled=False, transit_encryption_mode=None)],
    "Redis in-transit encryption switched off")
add("rds-force-ssl-off", "escalate", "prod",
    [update("aws_db_parameter_group.orders", "aws_db_parameter_group", param_group("1"),
            parameter=[param_group("1")["parameter"][0], dict(param_group("1")["parameter"][1], value="0")])],
    "PostgreSQL parameter rds.force_ssl set to 0: clients may connect without TLS")
add("cloudtrail-single-region", "escalate", "prod",
    [update("aws_cloudtrail.org", "aws_cloudtrail", trail(), is_multi_region_trail=False)],
    "the account trail stops recording other regions")
add("cloudtrail-log-validation-off", "escalate", "prod",
    [update("aws_cloudtrail.org", "aws_cloudtrail", trail(), enable_log_file_validation=False)],
    "CloudTrail log file integrity validation turned off")
add("cloudtrail-logging-stopped", "escalate", "prod",
    [update("aws_cloudtrail.org", "aws_cloudtrail", trail(), enable_logging=False)],
    "CloudTrail logging stopped")
add("rds-deletion-protection-off", "escalate", "prod",
    [rc("aws_db_instance.orders", "aws_db_instance", ["update"], db(), db(deletion_protection=False),
        before_sensitive=DB_SENSITIVE, after_sensitive=DB_SENSITIVE)],
    "production database deletion protection removed")
add("alb-deletion-protection-off", "escalate", "prod",
    [update("aws_lb.web", "aws_lb", alb(), enable_deletion_protection=False)],
    "production load balancer deletion protection removed")
add("rds-backups-disabled", "escalate", "prod",
    [rc("aws_db_instance.orders", "aws_db_instance", ["update"], db(), db(backup_retention_period=0),
        before_sensitive=DB_SENSITIVE, after_sensitive=DB_SENSITIVE)],
    "automated backups of the production database disabled")
add("s3-bucket-public-access-block-off", "escalate", "staging",
    [update("aws_s3_bucket_public_access_block.exports", "aws_s3_bucket_public_access_block", bucket_pab(),
            block_public_policy=False, restrict_public_buckets=False)],
    "Block Public Access relaxed on a staging bucket (public policies allowed)")
add("s3-account-public-access-block-off", "escalate", "prod",
    [update("aws_s3_account_public_access_block.this", "aws_s3_account_public_access_block", account_pab(),
            block_public_acls=False, block_public_policy=False, ignore_public_acls=False, restrict_public_buckets=False)],
    "account-wide S3 Block Public Access switched off")
add("aurora-instance-made-public", "reject", "prod",
    [update("aws_rds_cluster_instance.ledger_1", "aws_rds_cluster_instance", cluster_instance(), publicly_accessible=True)],
    "Aurora instance made publicly accessible")
add("eks-endpoint-opened", "escalate", "prod",
    [update("aws_eks_cluster.main", "aws_eks_cluster", eks(public=False, cidrs=["0.0.0.0/0"]),
            vpc_config=[eks(public=True, cidrs=["0.0.0.0/0"])["vpc_config"][0]])],
    "EKS API endpoint switched from private-only to public for 0.0.0.0/0")
add("sg-ssh-opened-to-world", "reject", "prod",
    [update("aws_security_group.app", "aws_security_group",
            sg("app", "application servers", [sg_block(8080, [], "from the ALB", sgs=["sg-alb012345"]),
                                               sg_block(22, ["10.20.0.0/16"], "SSH from the VPN")],
               [sg_block(0, ["0.0.0.0/0"], "all egress", proto="-1", to=0)]),
            ingress=[sg_block(8080, [], "from the ALB", sgs=["sg-alb012345"]),
                     sg_block(22, ["0.0.0.0/0"], "SSH from the VPN")])],
    "SSH ingress of the application servers widened from the VPN range to 0.0.0.0/0")
add("db-sg-egress-opened", "escalate", "prod",
    [update("aws_security_group.orders_db", "aws_security_group",
            sg("orders-db", "orders database", [sg_block(5432, [], "from the app", sgs=["sg-app"])], [],
               tag_name="orders-db"),
            egress=[sg_block(0, ["0.0.0.0/0"], "all egress", proto="-1", to=0)])],
    "database security group (inline egress) opened to the whole internet")
add("db-sg-egress-rule-world", "escalate", "prod",
    [rc("aws_vpc_security_group_egress_rule.orders_db_all", "aws_vpc_security_group_egress_rule", ["create"], None,
        {"security_group_id": "sg-orders-db", "cidr_ipv4": "0.0.0.0/0", "cidr_ipv6": None, "ip_protocol": "-1",
         "from_port": None, "to_port": None, "description": "all egress", "prefix_list_id": None,
         "referenced_security_group_id": None, "tags": tags("prod", Name="orders-db-egress")},
        unknown={"arn": True, "id": True, "security_group_rule_id": True, "tags_all": True})],
    "egress to the world added to the existing database security group with a separate rule resource")
add("private-route-to-igw", "escalate", "prod",
    [update("aws_route_table.private_a", "aws_route_table",
            route_table([route("0.0.0.0/0", nat_gateway_id="nat-0a1b2c3d")]),
            route=[route("0.0.0.0/0", gateway_id="igw-0a1b2c3d")])],
    "private route table's default route moved from the NAT gateway to the internet gateway")
add("private-subnet-public-ips", "escalate", "prod",
    [update("aws_subnet.private_a", "aws_subnet", subnet(False), map_public_ip_on_launch=True)],
    "private subnet starts giving public IPs to instances launched in it")
add("role-trust-opened-to-everyone", "reject", "prod",
    [update("aws_iam_role.deployer", "aws_iam_role", role(own_trust()),
            assume_role_policy=json.dumps({"Version": "2012-10-17", "Statement": [
                own_trust()[0], {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]}))],
    "deployer role's trust policy changed to Principal AWS \"*\"")
add("role-trust-external-account", "escalate", "prod",
    [update("aws_iam_role.deployer", "aws_iam_role", role(own_trust()),
            assume_role_policy=json.dumps({"Version": "2012-10-17", "Statement": own_trust() + [
                {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999988887777:root"}, "Action": "sts:AssumeRole"}]}))],
    "deployer role made assumable from another AWS account")
add("admin-policy-attached", "reject", "prod",
    [rc("aws_iam_role_policy_attachment.deployer_admin", "aws_iam_role_policy_attachment", ["create"], None,
        {"role": "payments-deployer", "policy_arn": "arn:aws:iam::aws:policy/AdministratorAccess"}, unknown={"id": True})],
    "AdministratorAccess attached to the existing deployer role")
add("guardduty-disabled", "escalate", "prod",
    [update("aws_guardduty_detector.this", "aws_guardduty_detector", detector(True), enable=False)],
    "GuardDuty detector suspended")
add("kms-rotation-disabled", "escalate", "prod",
    [update("aws_kms_key.data", "aws_kms_key", kms_key(True), enable_key_rotation=False, rotation_period_in_days=0)],
    "automatic rotation of the data key switched off")
add("sqs-encryption-removed", "escalate", "prod",
    [update("aws_sqs_queue.orders_events", "aws_sqs_queue", queue(True), sqs_managed_sse_enabled=False)],
    "server-side encryption of the orders queue switched off")
add("lambda-url-auth-removed", "escalate", "prod",
    [update("aws_lambda_function_url.refunds", "aws_lambda_function_url", function_url("AWS_IAM"), authorization_type="NONE")],
    "the refunds function URL no longer requires IAM authentication")

# ---- Azure ----
add("azure-storage-tls10", "escalate", "prod",
    [rc("azurerm_storage_account.payments", "azurerm_storage_account", ["update"], az_storage(), az_storage(min_tls_version="TLS1_0"),
        before_sensitive=AZ_STORAGE_SENSITIVE, after_sensitive=AZ_STORAGE_SENSITIVE)],
    "storage account accepts TLS 1.0 again")
add("azure-storage-public-blobs", "escalate", "prod",
    [rc("azurerm_storage_account.payments", "azurerm_storage_account", ["update"], az_storage(),
        az_storage(allow_nested_items_to_be_public=True),
        before_sensitive=AZ_STORAGE_SENSITIVE, after_sensitive=AZ_STORAGE_SENSITIVE)],
    "storage account lets containers be made anonymously readable")
add("azure-storage-https-only-off", "escalate", "prod",
    [rc("azurerm_storage_account.payments", "azurerm_storage_account", ["update"], az_storage(),
        az_storage(https_traffic_only_enabled=False),
        before_sensitive=AZ_STORAGE_SENSITIVE, after_sensitive=AZ_STORAGE_SENSITIVE)],
    "storage account accepts plain HTTP")
add("azure-key-vault-without-purge-protection", "escalate", "prod",
    [rc("azurerm_key_vault.payments", "azurerm_key_vault", ["create"], None, az_key_vault(False),
        unknown={"id": True, "vault_uri": True, "access_policy": True, "contact": True})],
    "new production key vault without purge protection (azurerm refuses to turn it off on an existing vault)")
add("azure-sql-firewall-all-ips", "reject", "prod",
    [update("azurerm_mssql_firewall_rule.office", "azurerm_mssql_firewall_rule", az_sql_fw("203.0.113.0", "203.0.113.255"),
            start_ip_address="0.0.0.0", end_ip_address="255.255.255.255")],
    "SQL server firewall rule widened from the office range to every IPv4 address")
add("azure-nsg-rdp-internet", "reject", "prod",
    [update("azurerm_network_security_rule.rdp_admin", "azurerm_network_security_rule", az_nsg_rule("10.10.0.0/16"),
            source_address_prefix="*")],
    "RDP rule widened from the jump-host network to any source")

# ---- Google Cloud ----
add("gcs-bucket-made-public", "reject", "prod",
    [update("google_storage_bucket_iam_binding.reports_viewers", "google_storage_bucket_iam_binding",
            gcs_binding(["group:finance@example.com"]), members=["allUsers", "group:finance@example.com"])],
    "reports bucket viewer binding gains allUsers")
add("gcp-sql-authorized-world", "reject", "prod",
    [update("google_sql_database_instance.payments", "google_sql_database_instance", cloud_sql(),
            settings=cloud_sql(authorized=[{"name": "office", "value": "203.0.113.0/24", "expiration_time": ""},
                                           {"name": "anywhere", "value": "0.0.0.0/0", "expiration_time": ""}])["settings"])],
    "Cloud SQL authorized networks gain 0.0.0.0/0")
add("gcp-sql-ssl-optional", "escalate", "prod",
    [update("google_sql_database_instance.payments", "google_sql_database_instance", cloud_sql(),
            settings=cloud_sql(ssl_mode="ALLOW_UNENCRYPTED_AND_ENCRYPTED")["settings"])],
    "Cloud SQL accepts unencrypted connections again (ssl_mode ALLOW_UNENCRYPTED_AND_ENCRYPTED)")
add("gcp-firewall-ssh-world", "reject", "prod",
    [update("google_compute_firewall.ssh_bastion", "google_compute_firewall", gcp_firewall(["35.235.240.0/20"]),
            source_ranges=["0.0.0.0/0"])],
    "bastion SSH firewall widened from IAP's range to the whole internet")

# ---- routine updates that must stay approved in prod ----
add("routine-s3-tags", "approve", "prod",
    [update("aws_s3_bucket.exports", "aws_s3_bucket", s3_bucket(tags("prod")),
            tags=tags("prod", CostCenter="cc-104"), tags_all=tags("prod", CostCenter="cc-104"))],
    "a cost-centre tag added to a bucket")
add("routine-asg-desired-capacity", "approve", "prod",
    [update("aws_autoscaling_group.web", "aws_autoscaling_group", asg(4), desired_capacity=6)],
    "web fleet scaled from 4 to 6 instances within min 2 / max 12")
add("routine-rds-minor-version", "approve", "prod",
    [rc("aws_db_instance.orders", "aws_db_instance", ["update"], db(), db(engine_version="15.8"),
        before_sensitive=DB_SENSITIVE, after_sensitive=DB_SENSITIVE)],
    "PostgreSQL minor version bump 15.7 -> 15.8")
add("routine-iam-role-description", "approve", "prod",
    [update("aws_iam_role.deployer", "aws_iam_role", role(own_trust()),
            description="deploys the payments and refunds services")],
    "role description reworded")
add("routine-lambda-timeout", "approve", "prod",
    [update("aws_lambda_function.refunds", "aws_lambda_function", lambda_fn(30), timeout=60)],
    "function timeout raised from 30 to 60 seconds")
add("routine-log-retention-increased", "approve", "prod",
    [update("aws_cloudwatch_log_group.refunds", "aws_cloudwatch_log_group", log_group(90), retention_in_days=400)],
    "log retention raised from 90 to 400 days")
add("routine-alb-listener-tls13", "approve", "prod",
    [update("aws_lb_listener.https", "aws_lb_listener", listener("ELBSecurityPolicy-TLS-1-2-2017-01"),
            ssl_policy="ELBSecurityPolicy-TLS13-1-2-2021-06")],
    "HTTPS listener moved to the TLS 1.3 policy (a strengthening)")
add("routine-kms-description", "approve", "prod",
    [update("aws_kms_key.data", "aws_kms_key", kms_key(), description="payments and refunds data key")],
    "KMS key description reworded")
add("routine-azure-storage-tags", "approve", "prod",
    [rc("azurerm_storage_account.payments", "azurerm_storage_account", ["update"], az_storage(),
        az_storage(tags={"environment": "prod", "team": "payments", "costcenter": "cc-104"}),
        before_sensitive=AZ_STORAGE_SENSITIVE, after_sensitive=AZ_STORAGE_SENSITIVE)],
    "cost-centre tag on an Azure storage account")
add("routine-gcs-bucket-labels", "approve", "prod",
    [update("google_storage_bucket.reports", "google_storage_bucket", gcs_bucket({"env": "prod"}),
            labels={"env": "prod", "costcenter": "cc-104"})],
    "cost-centre label on a Cloud Storage bucket")


def main():
    rows = ["name\texpect\tenvironment\tmonthly_budget_usd"]
    notes = []
    for name, expect, env, budget, changes, note in S:
        with open(os.path.join(HERE, f"{name}.plan.json"), "w") as f:
            json.dump(plan(changes), f, indent=2)
            f.write("\n")
        with open(os.path.join(HERE, f"{name}.stack.toml"), "w") as f:
            f.write(f'name = "{name}"\nenvironment = "{env}"\nmonthly_budget_usd = {budget}\n')
        rows.append(f"{name}\t{expect}\t{env}\t{budget}")
        notes.append((name, expect, note))
    with open(os.path.join(HERE, "expected.tsv"), "w") as f:
        f.write("\n".join(rows) + "\n")
    if "--notes" in sys.argv:
        for name, expect, note in notes:
            print(f"{name}\t{expect}\t{note}")


if __name__ == "__main__":
    main()
