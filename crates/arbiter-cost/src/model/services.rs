//! Edge, API and integration services: CloudFront, Global Accelerator, API
//! Gateway (REST, HTTP and WebSocket), Step Functions, Kinesis Data Streams,
//! WAF, AWS Config rules, CloudWatch dashboards, Amazon MQ.

use super::{check, trim_num, Model, Pricer, Stop, Text, HOURS_PER_MONTH};
use serde_json::Value;

pub(crate) const CLOUDFRONT_DISTRIBUTION: Model = Model {
    resource_type: "aws_cloudfront_distribution",
    keys: &["viewer_certificate"],
    usage_keys: &[
        "monthly_data_transfer_to_internet_gb.us",
        "monthly_data_transfer_to_internet_gb.europe",
        "monthly_data_transfer_to_internet_gb.south_africa",
        "monthly_data_transfer_to_internet_gb.south_america",
        "monthly_data_transfer_to_internet_gb.japan",
        "monthly_data_transfer_to_internet_gb.australia",
        "monthly_data_transfer_to_internet_gb.asia_pacific",
        "monthly_data_transfer_to_internet_gb.india",
        "monthly_data_transfer_to_origin_gb.us",
        "monthly_data_transfer_to_origin_gb.europe",
        "monthly_data_transfer_to_origin_gb.south_africa",
        "monthly_data_transfer_to_origin_gb.south_america",
        "monthly_data_transfer_to_origin_gb.japan",
        "monthly_data_transfer_to_origin_gb.australia",
        "monthly_data_transfer_to_origin_gb.asia_pacific",
        "monthly_data_transfer_to_origin_gb.india",
        "monthly_http_requests.us",
        "monthly_http_requests.europe",
        "monthly_http_requests.south_africa",
        "monthly_http_requests.south_america",
        "monthly_http_requests.japan",
        "monthly_http_requests.australia",
        "monthly_http_requests.asia_pacific",
        "monthly_http_requests.india",
        "monthly_https_requests.us",
        "monthly_https_requests.europe",
        "monthly_https_requests.south_africa",
        "monthly_https_requests.south_america",
        "monthly_https_requests.japan",
        "monthly_https_requests.australia",
        "monthly_https_requests.asia_pacific",
        "monthly_https_requests.india",
        "monthly_invalidation_requests",
        "monthly_encryption_requests",
        "monthly_log_lines",
        "custom_ssl_certificates",
    ],
    price: cloudfront,
};

/// Edge areas: usage sub-key (Infracost's names) and label.
const CF_AREAS: &[(&str, &str)] = &[
    ("us", "US, Mexico, Canada"),
    ("europe", "Europe, Israel"),
    ("south_africa", "South Africa, Kenya, Middle East"),
    ("south_america", "South America"),
    ("japan", "Japan"),
    ("australia", "Australia, New Zealand"),
    ("asia_pacific", "Hong Kong, Philippines, Asia Pacific"),
    ("india", "India"),
];
/// Internet egress tiers per month, in GB (10 TB, 40 TB, … as AWS counts, 1 TB = 1,024 GB).
const CF_EGRESS_TIERS: &[(&str, &str, f64)] = &[
    ("internet_egress_first_10tb", "first 10TB", 10_240.0),
    ("internet_egress_next_40tb", "next 40TB", 40_960.0),
    ("internet_egress_next_100tb", "next 100TB", 102_400.0),
    ("internet_egress_next_350tb", "next 350TB", 358_400.0),
    ("internet_egress_next_524tb", "next 524TB", 536_576.0),
    ("internet_egress_next_4pb", "next 4PB", 4_194_304.0),
    ("internet_egress_over_5pb", "over 5PB", f64::INFINITY),
];

fn cloudfront(p: &mut Pricer<'_>) -> Result<(), Stop> {
    const T: &[&str] = &["aws_cloudfront_distribution"];
    // Without a usage file the US edge components are shown at 0, like
    // Infracost's breakdown; with one, each area the file names.
    let any_area = CF_AREAS.iter().any(|(a, _)| {
        [
            "monthly_data_transfer_to_internet_gb",
            "monthly_data_transfer_to_origin_gb",
            "monthly_http_requests",
            "monthly_https_requests",
        ]
        .iter()
        .any(|k| p.usage.get(&format!("{k}.{a}")).is_some())
    });
    for (i, (area, label)) in CF_AREAS.iter().enumerate() {
        let get = |p: &Pricer<'_>, k: &str| p.usage.get(&format!("{k}.{area}"));
        let keys = [
            get(p, "monthly_data_transfer_to_internet_gb"),
            get(p, "monthly_data_transfer_to_origin_gb"),
            get(p, "monthly_http_requests"),
            get(p, "monthly_https_requests"),
        ];
        let shown = if any_area {
            keys.iter().any(Option::is_some)
        } else {
            i == 0
        };
        if !shown {
            continue;
        }
        let assumption = |key: &str, v: Option<f64>| -> Option<Text> {
            v.is_none().then(|| {
                Text::from(format!(
                    "no usage given: 0 assumed; set {key}.{area} in the usage file"
                ))
            })
        };
        let [internet, origin, http, https] = keys;
        p.add_tiers(
            &format!("{label}: data transfer out to internet"),
            "GB",
            internet.unwrap_or(0.0),
            CF_EGRESS_TIERS,
            T,
            area,
            assumption("monthly_data_transfer_to_internet_gb", internet),
        )?;
        p.add_priced(
            format!("{label}: data transfer out to origin"),
            "GB",
            origin.unwrap_or(0.0),
            T,
            "origin_egress",
            area,
            assumption("monthly_data_transfer_to_origin_gb", origin),
        )?;
        p.add_priced(
            format!("{label}: HTTP requests"),
            "10k requests",
            http.unwrap_or(0.0) / 1e4,
            T,
            "http_requests",
            area,
            assumption("monthly_http_requests", http),
        )?;
        p.add_priced(
            format!("{label}: HTTPS requests"),
            "10k requests",
            https.unwrap_or(0.0) / 1e4,
            T,
            "https_requests",
            area,
            assumption("monthly_https_requests", https),
        )?;
    }
    // The first 1,000 invalidation paths of a month have no charge.
    if let Some(paths) = p.usage.get("monthly_invalidation_requests") {
        p.add_priced(
            "Invalidation requests (over 1k)",
            "paths",
            (paths - 1000.0).max(0.0),
            T,
            "invalidations_over_1k",
            "paths",
            None,
        )?;
    }
    if let Some(n) = p.usage.get("monthly_encryption_requests") {
        p.add_priced(
            "Field level encryption requests",
            "10k requests",
            n / 1e4,
            T,
            "field_level_encryption",
            "requests",
            None,
        )?;
    }
    if let Some(n) = p.usage.get("monthly_log_lines") {
        p.add_priced(
            "Real-time log requests",
            "1M lines",
            n / 1e6,
            T,
            "realtime_log_lines",
            "lines",
            None,
        )?;
    }
    // Dedicated-IP custom certificates: `ssl_support_method = "vip"`.
    let vip = p
        .attrs
        .block("viewer_certificate")
        .and_then(|v| v.get("ssl_support_method"))
        .and_then(Value::as_str)
        == Some("vip");
    let (certs, note) = match p.usage.get("custom_ssl_certificates") {
        Some(n) => (check("custom_ssl_certificates", n, 1000.0)?, None),
        None if vip => (
            1.0,
            Some(Text::from(
                "ssl_support_method \"vip\": 1 dedicated-IP certificate assumed; set custom_ssl_certificates in the usage file",
            )),
        ),
        None => (0.0, None),
    };
    if certs > 0.0 {
        p.add_priced(
            "Dedicated IP custom SSLs",
            "certificates",
            certs,
            T,
            "dedicated_ip_ssl_months",
            "certificate",
            note,
        )?;
    }
    Ok(())
}

pub(crate) const GLOBAL_ACCELERATOR: Model = Model {
    resource_type: "aws_globalaccelerator_accelerator",
    keys: &[],
    usage_keys: &[],
    price: global_accelerator,
};

fn global_accelerator(p: &mut Pricer<'_>) -> Result<(), Stop> {
    // The fixed hourly fee; the premium on data transfer depends on the
    // source and destination regions, which the catalogue lacks.
    p.add_hourly(
        "Fixed fee",
        1.0,
        &["aws_globalaccelerator_accelerator"],
        "fixed_fee_hours",
        "accelerator",
        None,
    )?;
    Ok(())
}

pub(crate) const API_GATEWAY_REST_API: Model = Model {
    resource_type: "aws_api_gateway_rest_api",
    keys: &[],
    usage_keys: &["monthly_requests"],
    price: rest_api,
};

fn rest_api(p: &mut Pricer<'_>) -> Result<(), Stop> {
    p.add_tiered(
        "Requests",
        "1M requests",
        "monthly_requests",
        1e-6,
        &[
            ("requests_first_333m", "first 333M", 333.0),
            ("requests_next_667m", "next 667M", 667.0),
            ("requests_next_19b", "next 19B", 19_000.0),
            ("requests_over_20b", "over 20B", f64::INFINITY),
        ],
        &["aws_api_gateway_rest_api"],
        "rest",
    )
}

pub(crate) const APIGATEWAYV2_API: Model = Model {
    resource_type: "aws_apigatewayv2_api",
    keys: &["protocol_type"],
    usage_keys: &[
        "monthly_requests",
        "request_size_kb",
        "monthly_messages",
        "message_size_kb",
        "monthly_connection_mins",
    ],
    price: apigatewayv2,
};

fn apigatewayv2(p: &mut Pricer<'_>) -> Result<(), Stop> {
    const T: &[&str] = &["aws_apigatewayv2_api"];
    let protocol = p
        .attrs
        .str("protocol_type")
        .unwrap_or("HTTP")
        .to_ascii_uppercase();
    match protocol.as_str() {
        "HTTP" => {
            // HTTP API requests are metered in 512 KB increments.
            let (req, a) = p.usage_value("monthly_requests", 0.0);
            let size = p.usage.get("request_size_kb").unwrap_or(512.0);
            let metered = req * (size / 512.0).ceil().max(1.0);
            p.add_tiers(
                "Requests",
                "1M requests",
                metered / 1e6,
                &[
                    ("requests_first_300m", "first 300M", 300.0),
                    ("requests_over_300m", "over 300M", f64::INFINITY),
                ],
                T,
                "http",
                a,
            )
        }
        "WEBSOCKET" => {
            // Messages are metered in 32 KB increments.
            let (msgs, a) = p.usage_value("monthly_messages", 0.0);
            let size = p.usage.get("message_size_kb").unwrap_or(32.0);
            let metered = msgs * (size / 32.0).ceil().max(1.0);
            p.add_tiers(
                "Messages",
                "1M messages",
                metered / 1e6,
                &[
                    ("messages_first_1b", "first 1B", 1000.0),
                    ("messages_over_1b", "over 1B", f64::INFINITY),
                ],
                T,
                "websocket",
                a,
            )?;
            p.add_usage(
                "Connection duration",
                "1M minutes",
                "monthly_connection_mins",
                0.0,
                1e-6,
                T,
                "connection_minutes",
                "websocket",
            )
        }
        other => Err(Stop::Unpriced(format!(
            "protocol_type {other:?} is not known (HTTP or WEBSOCKET)"
        ))),
    }
}

pub(crate) const SFN_STATE_MACHINE: Model = Model {
    resource_type: "aws_sfn_state_machine",
    keys: &["type"],
    usage_keys: &[
        "monthly_transitions",
        "monthly_requests",
        "workflow_duration_ms",
        "memory_mb",
    ],
    price: state_machine,
};

fn state_machine(p: &mut Pricer<'_>) -> Result<(), Stop> {
    const T: &[&str] = &["aws_sfn_state_machine"];
    let kind = p
        .attrs
        .str("type")
        .unwrap_or("STANDARD")
        .to_ascii_uppercase();
    match kind.as_str() {
        "STANDARD" => p.add_usage(
            "Transitions",
            "1K transitions",
            "monthly_transitions",
            0.0,
            1e-3,
            T,
            "transitions",
            "standard",
        ),
        "EXPRESS" => {
            let (requests, a_req) = p.usage_value("monthly_requests", 0.0);
            p.add_priced(
                "Requests",
                "1M requests",
                requests / 1e6,
                T,
                "requests",
                "express",
                a_req.clone(),
            )?;
            let (ms, a_ms) = p.usage_value("workflow_duration_ms", 0.0);
            // Express workflows are billed for memory in 64 MB steps (64 MB
            // at least), so a figure between steps is rounded up.
            let mb = (p.usage.get("memory_mb").unwrap_or(64.0) / 64.0)
                .ceil()
                .max(1.0)
                * 64.0;
            let gb_s = requests * ms / 1000.0 * mb / 1024.0;
            let assumption = match (&a_req, &a_ms) {
                (None, None) if p.usage.get("memory_mb").is_some() => None,
                (None, None) => Some(Text::from(
                    "memory_mb not given: 64 MB assumed; set memory_mb in the usage file",
                )),
                _ => Some(Text::from(
                    "no usage given: 0 assumed; set monthly_requests, workflow_duration_ms and memory_mb in the usage file",
                )),
            };
            // Tiers are 1,000 and 4,000 GB-hours; the prices are per GB-second.
            p.add_tiers(
                "Duration",
                "GB-seconds",
                gb_s,
                &[
                    (
                        "duration_first_1k_gb_h",
                        "first 1K GB-hours",
                        1000.0 * 3600.0,
                    ),
                    ("duration_next_4k_gb_h", "next 4K GB-hours", 4000.0 * 3600.0),
                    ("duration_over_5k_gb_h", "over 5K GB-hours", f64::INFINITY),
                ],
                T,
                "express",
                assumption,
            )
        }
        other => Err(Stop::Unpriced(format!(
            "type {other:?} is not known (STANDARD or EXPRESS)"
        ))),
    }
}

pub(crate) const KINESIS_STREAM: Model = Model {
    resource_type: "aws_kinesis_stream",
    keys: &["stream_mode_details", "shard_count"],
    usage_keys: &[
        "monthly_put_payload_units",
        "monthly_efo_consumer_shard_hours",
        "monthly_efo_data_retrieval_gb",
        "monthly_data_ingested_gb",
        "monthly_data_retrieval_gb",
    ],
    price: kinesis_stream,
};

fn kinesis_stream(p: &mut Pricer<'_>) -> Result<(), Stop> {
    const T: &[&str] = &["aws_kinesis_stream"];
    let mode = p
        .attrs
        .block("stream_mode_details")
        .and_then(|b| b.get("stream_mode"))
        .and_then(Value::as_str)
        .unwrap_or("PROVISIONED")
        .to_ascii_uppercase();
    match mode.as_str() {
        "PROVISIONED" => {
            let shards = match p.checked("shard_count", 100_000.0)? {
                Some(n) => n,
                None if p.attrs.is_unknown("shard_count") => return Err(p.unknown("shard_count")),
                None => {
                    return Err(Stop::Unpriced(
                        "shard_count is not set for a provisioned stream".into(),
                    ))
                }
            };
            let price = p.price(T, "shard_hours", "provisioned")?;
            p.add(
                format!("Shards (provisioned) × {}", trim_num(shards)),
                "shard-hours",
                shards * HOURS_PER_MONTH,
                price,
                None,
            );
            p.add_usage(
                "PUT payload units",
                "1M units",
                "monthly_put_payload_units",
                0.0,
                1e-6,
                T,
                "put_payload_units",
                "provisioned",
            )?;
            for (key, name, unit, component) in [
                (
                    "monthly_efo_consumer_shard_hours",
                    "Enhanced fan-out consumers",
                    "consumer-shard-hours",
                    "efo_consumer_shard_hours",
                ),
                (
                    "monthly_efo_data_retrieval_gb",
                    "Enhanced fan-out data retrieval",
                    "GB",
                    "efo_data_retrieval",
                ),
            ] {
                if let Some(v) = p.usage.get(key) {
                    p.add_priced(name, unit, v, T, component, "provisioned", None)?;
                }
            }
            Ok(())
        }
        "ON_DEMAND" => {
            p.add_hourly(
                "Stream (on-demand)",
                1.0,
                T,
                "stream_hours",
                "on-demand",
                None,
            )?;
            p.add_usage(
                "Data ingested",
                "GB",
                "monthly_data_ingested_gb",
                0.0,
                1.0,
                T,
                "data_ingested",
                "on-demand",
            )?;
            p.add_usage(
                "Data retrieval",
                "GB",
                "monthly_data_retrieval_gb",
                0.0,
                1.0,
                T,
                "data_retrieval",
                "on-demand",
            )?;
            if let Some(v) = p.usage.get("monthly_efo_data_retrieval_gb") {
                p.add_priced(
                    "Enhanced fan-out data retrieval",
                    "GB",
                    v,
                    T,
                    "efo_data_retrieval",
                    "on-demand",
                    None,
                )?;
            }
            Ok(())
        }
        other => Err(Stop::Unpriced(format!(
            "stream_mode {other:?} is not known (PROVISIONED or ON_DEMAND)"
        ))),
    }
}

pub(crate) const WAFV2_WEB_ACL: Model = Model {
    resource_type: "aws_wafv2_web_acl",
    keys: &["rule"],
    usage_keys: &[
        "rule_group_rules",
        "managed_rule_group_rules",
        "monthly_requests",
    ],
    price: wafv2_web_acl,
};

fn wafv2_web_acl(p: &mut Pricer<'_>) -> Result<(), Stop> {
    const T: &[&str] = &["aws_wafv2_web_acl"];
    let rules = p.attrs.blocks("rule");
    let statement_has = |r: &serde_json::Map<String, Value>, key: &str| {
        r.get("statement")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .any(|s| {
                s.get(key)
                    .and_then(Value::as_array)
                    .is_some_and(|a| !a.is_empty())
            })
    };
    let groups = rules
        .iter()
        .filter(|r| statement_has(r, "rule_group_reference_statement"))
        .count() as f64;
    let managed = rules
        .iter()
        .filter(|r| statement_has(r, "managed_rule_group_statement"))
        .count() as f64;
    let blocks = check("rule", rules.len() as f64, 10_000.0)?;
    let price = p.price(T, "web_acl_months", "web-acl")?;
    p.add("Web ACL usage", "months", 1.0, price, None);
    // The rules inside referenced rule groups are billed as rules too; the
    // plan does not list them, so they come from the usage file.
    let inner = ["rule_group_rules", "managed_rule_group_rules"];
    let extra: f64 = inner.iter().filter_map(|k| p.usage.get(k)).sum();
    let note = (groups + managed > 0.0 && inner.iter().all(|k| p.usage.get(k).is_none())).then(|| {
        Text::from(
            "the rules inside rule groups are not in the plan: 0 assumed; set rule_group_rules and managed_rule_group_rules in the usage file",
        )
    });
    p.add_priced(
        "Rules",
        "rules",
        blocks + extra,
        T,
        "rule_months",
        "rule",
        note,
    )?;
    if groups > 0.0 {
        p.add_priced(
            "Rule groups",
            "groups",
            groups,
            T,
            "rule_group_months",
            "rule-group",
            None,
        )?;
    }
    if managed > 0.0 {
        p.add_priced(
            "Managed rule groups",
            "groups",
            managed,
            T,
            "managed_rule_group_months",
            "managed-rule-group",
            None,
        )?;
    }
    p.add_usage(
        "Requests",
        "1M requests",
        "monthly_requests",
        0.0,
        1e-6,
        T,
        "requests",
        "web-acl",
    )
}

pub(crate) const CONFIG_RULE: Model = Model {
    resource_type: "aws_config_config_rule",
    keys: &[],
    usage_keys: &["monthly_rule_evaluations"],
    price: config_rule,
};

fn config_rule(p: &mut Pricer<'_>) -> Result<(), Stop> {
    p.add_tiered(
        "Rule evaluations",
        "evaluations",
        "monthly_rule_evaluations",
        1.0,
        &[
            ("evaluations_first_100k", "first 100K", 100_000.0),
            ("evaluations_next_400k", "next 400K", 400_000.0),
            ("evaluations_over_500k", "over 500K", f64::INFINITY),
        ],
        &["aws_config_config_rule"],
        "rule",
    )
}

pub(crate) const CLOUDWATCH_DASHBOARD: Model = Model {
    resource_type: "aws_cloudwatch_dashboard",
    keys: &[],
    usage_keys: &[],
    price: dashboard,
};

fn dashboard(p: &mut Pricer<'_>) -> Result<(), Stop> {
    // The account's first three dashboards are free; a plan cannot tell
    // how many the account already has, so each is billed.
    let price = p.price(
        &["aws_cloudwatch_dashboard"],
        "dashboard_months",
        "dashboard",
    )?;
    p.add("Dashboard", "months", 1.0, price, None);
    Ok(())
}

pub(crate) const MQ_BROKER: Model = Model {
    resource_type: "aws_mq_broker",
    keys: &[
        "engine_type",
        "host_instance_type",
        "deployment_mode",
        "storage_type",
    ],
    usage_keys: &["storage_size_gb"],
    price: mq_broker,
};

fn mq_broker(p: &mut Pricer<'_>) -> Result<(), Stop> {
    const T: &[&str] = &["aws_mq_broker"];
    let engine = match p.attrs.str("engine_type") {
        Some(e) => e.to_ascii_lowercase(),
        None if p.attrs.is_unknown("engine_type") => return Err(p.unknown("engine_type")),
        None => return Err(Stop::Unpriced("engine_type is not set".into())),
    };
    let host = match p.attrs.str("host_instance_type") {
        Some(h) => h.to_string(),
        None if p.attrs.is_unknown("host_instance_type") => {
            return Err(p.unknown("host_instance_type"))
        }
        None => return Err(Stop::Unpriced("host_instance_type is not set".into())),
    };
    let deployment = p
        .attrs
        .str("deployment_mode")
        .unwrap_or("SINGLE_INSTANCE")
        .to_ascii_lowercase()
        .replace('_', "-");
    let shown_engine = if engine == "rabbitmq" {
        "RabbitMQ"
    } else {
        "ActiveMQ"
    };
    p.add_hourly(
        format!("Instance usage ({shown_engine}, {host}, {deployment})"),
        1.0,
        T,
        "instance_hours",
        &format!("{host}|{engine}|{deployment}"),
        None,
    )?;
    // ActiveMQ brokers default to EFS storage, RabbitMQ ones use EBS.
    let storage = p
        .attrs
        .str("storage_type")
        .map(str::to_ascii_lowercase)
        .unwrap_or_else(|| {
            if engine == "rabbitmq" {
                "ebs".into()
            } else {
                "efs".into()
            }
        });
    p.add_usage(
        format!("Storage ({shown_engine}, {})", storage.to_ascii_uppercase()),
        "GB",
        "storage_size_gb",
        0.0,
        1.0,
        T,
        "storage",
        &format!("{engine}|{storage}"),
    )
}
