//! Serverless and managed services: Lambda, ECS on Fargate, EKS control
//! planes, S3, EFS, ECR, SQS, SNS, KMS, Secrets Manager.

use super::{check, trim_num, Model, Pricer, Side, Stop, Text, HOURS_PER_MONTH};
use crate::attrs::{as_num, Attrs};
use serde_json::Value;

pub(crate) const LAMBDA_FUNCTION: Model = Model {
    resource_type: "aws_lambda_function",
    keys: &["memory_size", "architectures", "ephemeral_storage"],
    usage_keys: &["monthly_requests", "request_duration_ms"],
    price: lambda_function,
};

fn lambda_function(p: &mut Pricer<'_>) -> Result<(), Stop> {
    const T: &[&str] = &["aws_lambda_function"];
    let memory = check(
        "memory_size",
        p.attrs.num("memory_size").unwrap_or(128.0),
        10_240.0,
    )?;
    let arm = p
        .attrs
        .strings("architectures")
        .first()
        .is_some_and(|a| *a == "arm64");
    let arch = if arm { "arm64" } else { "x86_64" };
    let (requests, a_req) = p.usage_value("monthly_requests", 0.0);
    let (duration, a_dur) = p.usage_value("request_duration_ms", 0.0);
    p.add_priced(
        "Requests",
        "1M requests",
        requests / 1e6,
        T,
        "requests",
        "x86_64+arm64",
        a_req.clone(),
    )?;
    let gb_s = requests * (duration / 1000.0) * (memory / 1024.0);
    let assumption = match (&a_req, &a_dur) {
        (None, None) => None,
        _ => Some("no usage given: 0 assumed; set monthly_requests and request_duration_ms in the usage file".to_string()),
    };
    // Duration tiers per month (GB-seconds).
    let tiers: [(&str, &str, f64); 3] = if arm {
        [
            ("duration_first_7_5b_gb_s", "first 7.5B GB-seconds", 7.5e9),
            (
                "duration_next_11_25b_gb_s",
                "next 11.25B GB-seconds",
                11.25e9,
            ),
            (
                "duration_over_18_75b_gb_s",
                "over 18.75B GB-seconds",
                f64::INFINITY,
            ),
        ]
    } else {
        [
            ("duration_first_6b_gb_s", "first 6B GB-seconds", 6e9),
            ("duration_next_9b_gb_s", "next 9B GB-seconds", 9e9),
            (
                "duration_over_15b_gb_s",
                "over 15B GB-seconds",
                f64::INFINITY,
            ),
        ]
    };
    let mut left = gb_s;
    for (i, (component, label, size)) in tiers.into_iter().enumerate() {
        let q = left.min(size);
        if i == 0 || q > 0.0 {
            p.add_priced(
                format!("Duration ({arch}, {label})"),
                "GB-seconds",
                q,
                T,
                component,
                arch,
                if i == 0 {
                    assumption.clone().map(Text::from)
                } else {
                    None
                },
            )?;
        }
        left -= q;
    }
    let storage_mb = p
        .attrs
        .block("ephemeral_storage")
        .and_then(|b| b.get("size"))
        .and_then(as_num)
        .unwrap_or(512.0);
    let storage_mb = check("ephemeral_storage.size", storage_mb, 10_240.0)?;
    if storage_mb > 512.0 {
        // Only storage above the included 512 MB is billed.
        let extra_gb_s = requests * (duration / 1000.0) * ((storage_mb - 512.0) / 1024.0);
        p.add_priced(
            "Ephemeral storage (above 512 MB)",
            "GB-seconds",
            extra_gb_s,
            T,
            "ephemeral_storage",
            "x86_64+arm64",
            assumption.map(Text::from),
        )?;
    }
    Ok(())
}

pub(crate) const ECS_SERVICE: Model = Model {
    resource_type: "aws_ecs_service",
    keys: &[
        "launch_type",
        "capacity_provider_strategy",
        "desired_count",
        "task_definition",
        "scheduling_strategy",
    ],
    usage_keys: &[],
    price: ecs_service,
};

const TASK_KEYS: &[&str] = &[
    "cpu",
    "memory",
    "runtime_platform",
    "ephemeral_storage",
    "family",
    "arn",
];

/// Fargate CPU: `256` units or `"0.25 vCPU"`, in vCPUs.
fn vcpus(v: &Value) -> Option<f64> {
    let s = match v {
        Value::Number(n) => return n.as_f64().map(|u| u / 1024.0),
        Value::String(s) => s.trim().to_ascii_lowercase(),
        _ => return None,
    };
    match s.strip_suffix("vcpu") {
        Some(x) => x.trim().parse().ok(),
        None => s.parse::<f64>().ok().map(|u| u / 1024.0),
    }
}

/// Fargate memory: `512` MiB or `"1 GB"`, in GB.
fn memory_gb(v: &Value) -> Option<f64> {
    let s = match v {
        Value::Number(n) => return n.as_f64().map(|m| m / 1024.0),
        Value::String(s) => s.trim().to_ascii_lowercase(),
        _ => return None,
    };
    match s.strip_suffix("gb") {
        Some(x) => x.trim().parse().ok(),
        None => s.parse::<f64>().ok().map(|m| m / 1024.0),
    }
}

fn ecs_service(p: &mut Pricer<'_>) -> Result<(), Stop> {
    const T: &[&str] = &["aws_ecs_service"];
    let strategies = p.attrs.blocks("capacity_provider_strategy");
    let providers: Vec<&str> = strategies
        .iter()
        .filter_map(|s| s.get("capacity_provider").and_then(Value::as_str))
        .collect();
    let fargate = p.attrs.str("launch_type") == Some("FARGATE") || providers.contains(&"FARGATE");
    if providers.contains(&"FARGATE_SPOT") {
        return Err(Stop::Unpriced(
            "FARGATE_SPOT capacity: spot prices are not in the catalogue".into(),
        ));
    }
    if !fargate {
        return Err(Stop::Free(if providers.is_empty() {
            format!(
                "launch type {}: the container instances carry the cost",
                p.attrs.str("launch_type").unwrap_or("EC2 (the default)")
            )
        } else {
            "EC2 capacity providers: the container instances carry the cost".to_string()
        }));
    }
    let count = check(
        "desired_count",
        p.attrs.num("desired_count").unwrap_or(0.0),
        100_000.0,
    )?;
    let td = p.attrs.str("task_definition").map(str::to_string);
    let task = p
        .index
        .referenced(p.rc, "aws_ecs_task_definition")
        .into_iter()
        .next()
        .or_else(|| {
            td.as_deref()
                .and_then(|t| p.index.find_by_attr("aws_ecs_task_definition", "arn", t))
        })
        .or_else(|| {
            td.as_deref()
                .map(|t| t.rsplit('/').next().unwrap_or(t))
                .map(|t| t.split(':').next().unwrap_or(t))
                .and_then(|fam| {
                    p.index
                        .find_by_attr("aws_ecs_task_definition", "family", fam)
                })
        })
        .ok_or_else(|| {
            Stop::Unpriced(format!(
                "its task definition {} is not in the plan, so CPU and memory are unknown",
                td.as_deref()
                    .map_or_else(|| "(unknown)".to_string(), |t| format!("{t:?}"))
            ))
        })?;
    let (values, unknown) = match p.side {
        Side::Before => (task.change.before.as_ref(), None),
        Side::After => (
            task.change.after.as_ref().or(task.change.before.as_ref()),
            task.change.after_unknown.as_ref(),
        ),
    };
    let t = Attrs::extract(values, unknown, TASK_KEYS);
    if t.block("runtime_platform")
        .and_then(|r| r.get("cpu_architecture"))
        .and_then(Value::as_str)
        .is_some_and(|a| a.eq_ignore_ascii_case("ARM64"))
    {
        return Err(Stop::Unpriced(
            "ARM64 Fargate tasks: the catalogue has the x86 rate only".into(),
        ));
    }
    if t.block("ephemeral_storage")
        .and_then(|e| e.get("size_in_gib"))
        .and_then(as_num)
        .is_some_and(|g| g > 20.0)
    {
        return Err(Stop::Unpriced(
            "ephemeral storage above 20 GiB: the rate is not in the catalogue".into(),
        ));
    }
    let cpu = t.get("cpu").and_then(vcpus).ok_or_else(|| {
        Stop::Unpriced(format!("task definition {} has no known cpu", task.address))
    })?;
    let mem = t.get("memory").and_then(memory_gb).ok_or_else(|| {
        Stop::Unpriced(format!(
            "task definition {} has no known memory",
            task.address
        ))
    })?;
    let cpu = check("cpu", cpu, 192.0)?;
    let mem = check("memory", mem, 1024.0)?;
    let tasks = format!("{} task(s)", trim_num(count));
    p.add_priced(
        format!("Per vCPU per hour ({} vCPU × {tasks})", trim_num(cpu)),
        "vCPU-hours",
        cpu * count * HOURS_PER_MONTH,
        T,
        "vcpu_hours",
        "linux-x86_64",
        None,
    )?;
    p.add_priced(
        format!("Per GB per hour ({} GB × {tasks})", trim_num(mem)),
        "GB-hours",
        mem * count * HOURS_PER_MONTH,
        T,
        "memory_gb_hours",
        "linux-x86_64",
        None,
    )
}

pub(crate) const EKS_CLUSTER: Model = Model {
    resource_type: "aws_eks_cluster",
    keys: &[],
    usage_keys: &[],
    price: eks_cluster,
};

fn eks_cluster(p: &mut Pricer<'_>) -> Result<(), Stop> {
    p.add_hourly(
        "EKS cluster (standard support)",
        1.0,
        &["aws_eks_cluster"],
        "cluster_hours",
        "standard-support",
        Some("standard support assumed; a version in extended support costs more".into()),
    )?;
    Ok(())
}

pub(crate) const KMS_KEY: Model = Model {
    resource_type: "aws_kms_key",
    keys: &["customer_master_key_spec", "key_spec"],
    usage_keys: &["monthly_requests"],
    price: kms_key,
};

pub(crate) const KMS_REPLICA_KEY: Model = Model {
    resource_type: "aws_kms_replica_key",
    keys: &[],
    usage_keys: &["monthly_requests"],
    price: kms_key,
};

fn kms_key(p: &mut Pricer<'_>) -> Result<(), Stop> {
    const T: &[&str] = &["aws_kms_key"];
    let price = p.price(T, "key_months", "customer-managed")?;
    p.add("Customer master key", "months", 1.0, price, None);
    let spec = p
        .attrs
        .str("key_spec")
        .or_else(|| p.attrs.str("customer_master_key_spec"))
        .unwrap_or("SYMMETRIC_DEFAULT")
        .to_string();
    let sku = match spec.as_str() {
        "SYMMETRIC_DEFAULT" => "symmetric".to_string(),
        "RSA_3072" => "asymmetric-rsa-3072".to_string(),
        other => other.to_ascii_lowercase(),
    };
    p.add_usage(
        "Requests",
        "10k requests",
        "monthly_requests",
        0.0,
        1e-4,
        T,
        "requests",
        &sku,
    )
}

pub(crate) const S3_BUCKET: Model = Model {
    resource_type: "aws_s3_bucket",
    keys: &[],
    usage_keys: &[
        "standard.storage_gb",
        "standard.monthly_tier_1_requests",
        "standard.monthly_tier_2_requests",
        "standard.monthly_select_data_scanned_gb",
        "standard.monthly_select_data_returned_gb",
        "standard_infrequent_access.storage_gb",
        "standard_infrequent_access.monthly_tier_1_requests",
        "standard_infrequent_access.monthly_retrieval_gb",
        "one_zone_infrequent_access.storage_gb",
        "intelligent_tiering.frequent_access_storage_gb",
        "intelligent_tiering.infrequent_access_storage_gb",
        "glacier_flexible_retrieval.storage_gb",
        "glacier_deep_archive.storage_gb",
    ],
    price: s3_bucket,
};

fn s3_bucket(p: &mut Pricer<'_>) -> Result<(), Stop> {
    const T: &[&str] = &["aws_s3_bucket"];
    // The catalogue has the first 50 TB tier of Standard storage.
    if p.usage
        .get("standard.storage_gb")
        .is_some_and(|g| g > 51_200.0)
    {
        return Err(Stop::Unpriced(
            "Standard storage above 50 TB is billed at tier prices the catalogue lacks".into(),
        ));
    }
    p.add_usage(
        "Standard: storage",
        "GB",
        "standard.storage_gb",
        0.0,
        1.0,
        T,
        "storage",
        "standard",
    )?;
    p.add_usage(
        "Standard: PUT, COPY, POST, LIST requests",
        "1k requests",
        "standard.monthly_tier_1_requests",
        0.0,
        1e-3,
        T,
        "requests_put_copy_post_list",
        "standard",
    )?;
    p.add_usage(
        "Standard: GET, SELECT and all other requests",
        "1k requests",
        "standard.monthly_tier_2_requests",
        0.0,
        1e-3,
        T,
        "requests_get_select_other",
        "standard",
    )?;
    // The other classes appear only when the usage file gives them.
    let optional: &[(&str, &str, &str, f64, &str, &str)] = &[
        (
            "standard.monthly_select_data_scanned_gb",
            "Standard: Select data scanned",
            "GB",
            1.0,
            "select_data_scanned",
            "standard",
        ),
        (
            "standard.monthly_select_data_returned_gb",
            "Standard: Select data returned",
            "GB",
            1.0,
            "select_data_returned",
            "standard",
        ),
        (
            "standard_infrequent_access.storage_gb",
            "Standard-IA: storage",
            "GB",
            1.0,
            "storage",
            "standard-ia",
        ),
        (
            "standard_infrequent_access.monthly_tier_1_requests",
            "Standard-IA: PUT, COPY, POST, LIST requests",
            "1k requests",
            1e-3,
            "requests_put_copy_post_list",
            "standard-ia",
        ),
        (
            "standard_infrequent_access.monthly_retrieval_gb",
            "Standard-IA: retrievals",
            "GB",
            1.0,
            "retrievals",
            "standard-ia",
        ),
        (
            "one_zone_infrequent_access.storage_gb",
            "One Zone-IA: storage",
            "GB",
            1.0,
            "storage",
            "onezone-ia",
        ),
        (
            "intelligent_tiering.frequent_access_storage_gb",
            "Intelligent-Tiering: frequent access storage",
            "GB",
            1.0,
            "storage",
            "intelligent-tiering-frequent",
        ),
        (
            "intelligent_tiering.infrequent_access_storage_gb",
            "Intelligent-Tiering: infrequent access storage",
            "GB",
            1.0,
            "storage",
            "intelligent-tiering-infrequent",
        ),
        (
            "glacier_flexible_retrieval.storage_gb",
            "Glacier Flexible Retrieval: storage",
            "GB",
            1.0,
            "storage",
            "glacier-flexible-retrieval",
        ),
        (
            "glacier_deep_archive.storage_gb",
            "Glacier Deep Archive: storage",
            "GB",
            1.0,
            "storage",
            "glacier-deep-archive",
        ),
    ];
    for (key, name, unit, scale, component, sku) in optional {
        if let Some(v) = p.usage.get(key) {
            p.add_priced(name.to_string(), unit, v * scale, T, component, sku, None)?;
        }
    }
    Ok(())
}

pub(crate) const EFS_FILE_SYSTEM: Model = Model {
    resource_type: "aws_efs_file_system",
    keys: &[
        "throughput_mode",
        "provisioned_throughput_in_mibps",
        "availability_zone_name",
    ],
    usage_keys: &[
        "storage_gb",
        "infrequent_access_storage_gb",
        "monthly_infrequent_access_read_gb",
        "monthly_infrequent_access_write_gb",
    ],
    price: efs,
};

fn efs(p: &mut Pricer<'_>) -> Result<(), Stop> {
    const T: &[&str] = &["aws_efs_file_system"];
    let one_zone = p.attrs.str("availability_zone_name").is_some();
    let (std, ia, label) = if one_zone {
        ("one-zone", "one-zone-ia", "One Zone")
    } else {
        ("standard", "standard-ia", "Standard")
    };
    p.add_usage(
        format!("Storage ({label})"),
        "GB",
        "storage_gb",
        0.0,
        1.0,
        T,
        "storage",
        std,
    )?;
    p.add_usage(
        format!("Storage ({label}-Infrequent Access)"),
        "GB",
        "infrequent_access_storage_gb",
        0.0,
        1.0,
        T,
        "storage",
        ia,
    )?;
    p.add_usage(
        "Read requests (Infrequent Access)",
        "GB",
        "monthly_infrequent_access_read_gb",
        0.0,
        1.0,
        T,
        "ia_read_access",
        "standard",
    )?;
    p.add_usage(
        "Write requests (Infrequent Access)",
        "GB",
        "monthly_infrequent_access_write_gb",
        0.0,
        1.0,
        T,
        "ia_write_access",
        "standard",
    )?;
    if p.attrs.str("throughput_mode") == Some("provisioned") {
        let mbps = check(
            "provisioned_throughput_in_mibps",
            p.attrs
                .num("provisioned_throughput_in_mibps")
                .unwrap_or(0.0),
            100_000.0,
        )?;
        p.add_priced(
            "Provisioned throughput",
            "MB/s",
            mbps,
            T,
            "provisioned_throughput",
            "standard",
            None,
        )?;
    }
    Ok(())
}

pub(crate) const ECR_REPOSITORY: Model = Model {
    resource_type: "aws_ecr_repository",
    keys: &[],
    usage_keys: &["storage_gb"],
    price: ecr,
};

fn ecr(p: &mut Pricer<'_>) -> Result<(), Stop> {
    p.add_usage(
        "Storage",
        "GB",
        "storage_gb",
        0.0,
        1.0,
        &["aws_ecr_repository"],
        "storage",
        "private-repo",
    )
}

/// Requests billed per 64 KB chunk, as SQS and SNS count them.
fn chunked_requests(p: &Pricer<'_>) -> (f64, Option<Text>, f64) {
    let (req, a) = p.usage_value("monthly_requests", 0.0);
    let size = p.usage.get("request_size_kb").unwrap_or(64.0);
    let chunks = (size / 64.0).ceil().max(1.0);
    (req * chunks, a, size)
}

pub(crate) const SQS_QUEUE: Model = Model {
    resource_type: "aws_sqs_queue",
    keys: &["fifo_queue"],
    usage_keys: &["monthly_requests", "request_size_kb"],
    price: sqs_queue,
};

fn sqs_queue(p: &mut Pricer<'_>) -> Result<(), Stop> {
    let sku = if p.attrs.bool("fifo_queue") == Some(true) {
        "fifo"
    } else {
        "standard"
    };
    let (q, a, _) = chunked_requests(p);
    p.add_priced(
        format!("Requests ({sku})"),
        "1M requests",
        q / 1e6,
        &["aws_sqs_queue"],
        "requests",
        sku,
        a,
    )
}

pub(crate) const SNS_TOPIC: Model = Model {
    resource_type: "aws_sns_topic",
    keys: &["fifo_topic"],
    usage_keys: &["monthly_requests", "request_size_kb"],
    price: sns_topic,
};

fn sns_topic(p: &mut Pricer<'_>) -> Result<(), Stop> {
    const T: &[&str] = &["aws_sns_topic"];
    let fifo = p.attrs.bool("fifo_topic") == Some(true);
    let sku = if fifo { "fifo" } else { "standard" };
    let (q, a, size) = chunked_requests(p);
    p.add_priced(
        format!("API requests ({sku})"),
        "1M requests",
        q / 1e6,
        T,
        "api_requests",
        sku,
        a.clone(),
    )?;
    if fifo {
        let (req, _) = p.usage_value("monthly_requests", 0.0);
        p.add_priced(
            "Publish payload (FIFO)",
            "GB",
            req * size / (1024.0 * 1024.0),
            T,
            "publish_payload",
            "fifo",
            a,
        )?;
    }
    Ok(())
}

pub(crate) const SNS_TOPIC_SUBSCRIPTION: Model = Model {
    resource_type: "aws_sns_topic_subscription",
    keys: &["protocol"],
    usage_keys: &["monthly_requests"],
    price: sns_subscription,
};

fn sns_subscription(p: &mut Pricer<'_>) -> Result<(), Stop> {
    const T: &[&str] = &["aws_sns_topic"];
    let protocol = p.attrs.str("protocol").unwrap_or("").to_ascii_lowercase();
    let (component, unit, scale, label) = match protocol.as_str() {
        "http" | "https" => (
            "notifications_http",
            "100k notifications",
            1e-5,
            "HTTP/S notifications",
        ),
        "email" | "email-json" => (
            "notifications_email",
            "100k notifications",
            1e-5,
            "Email notifications",
        ),
        "firehose" => (
            "notifications_firehose",
            "1M notifications",
            1e-6,
            "Firehose notifications",
        ),
        "application" => (
            "notifications_mobile_push",
            "1M notifications",
            1e-6,
            "Mobile push notifications",
        ),
        "sqs" | "lambda" => {
            return Err(Stop::Free(format!(
                "deliveries to {protocol} have no SNS charge"
            )))
        }
        other => {
            return Err(Stop::Unpriced(format!(
                "protocol {other:?}: delivery prices are not in the catalogue"
            )))
        }
    };
    p.add_usage(
        label,
        unit,
        "monthly_requests",
        0.0,
        scale,
        T,
        component,
        "standard",
    )
}

pub(crate) const SECRETSMANAGER_SECRET: Model = Model {
    resource_type: "aws_secretsmanager_secret",
    keys: &["replica"],
    usage_keys: &["monthly_requests"],
    price: secret,
};

fn secret(p: &mut Pricer<'_>) -> Result<(), Stop> {
    const T: &[&str] = &["aws_secretsmanager_secret"];
    let replicas = p.attrs.blocks("replica").len() as f64;
    let price = p.price(T, "secret_months", "secret")?;
    let n = 1.0 + replicas;
    let name = if replicas > 0.0 {
        format!("Secret (with {} replica(s))", trim_num(replicas))
    } else {
        "Secret".to_string()
    };
    p.add(name, "months", n, price, None);
    p.add_usage(
        "API requests",
        "10k requests",
        "monthly_requests",
        0.0,
        1e-4,
        T,
        "api_requests",
        "secret",
    )
}

pub(crate) const ECS_TASK_DEFINITION: Model = Model {
    resource_type: "aws_ecs_task_definition",
    keys: &[],
    usage_keys: &[],
    price: ecs_task_definition,
};

fn ecs_task_definition(_: &mut Pricer<'_>) -> Result<(), Stop> {
    Err(Stop::Free(
        "a definition only: the aws_ecs_service that runs it carries the cost".into(),
    ))
}

pub(crate) const ACM_CERTIFICATE: Model = Model {
    resource_type: "aws_acm_certificate",
    keys: &["certificate_authority_arn"],
    usage_keys: &[],
    price: acm_certificate,
};

/// Public ACM certificates have no charge ("Public SSL/TLS certificates
/// provisioned through ACM are free of charge", see PROVENANCE.md); private
/// ones are issued by AWS Private CA, whose prices the catalogue lacks.
fn acm_certificate(p: &mut Pricer<'_>) -> Result<(), Stop> {
    if p.attrs.str("certificate_authority_arn").is_some() {
        return Err(Stop::Unpriced(
            "a private certificate (certificate_authority_arn): AWS Private CA prices are not in the catalogue".into(),
        ));
    }
    Err(Stop::Free("public ACM certificates have no charge".into()))
}
