//! Databases, caches, analytics and logs: RDS, Aurora, ElastiCache,
//! DynamoDB, Redshift, OpenSearch/Elasticsearch, MSK, CloudWatch.

use super::compute::{LARGE_IOPS, MAX_COUNT, MAX_VOLUME_GB};
use super::{check, times, trim_num, Model, Pricer, Stop, Text, HOURS_PER_MONTH};
use crate::attrs::as_num;
use arbiter_verdict::money::{usd, MoneyStyle};
use serde_json::Value;

const RDS: &[&str] = &["aws_db_instance"];
const AURORA: &[&str] = &["aws_rds_cluster_instance"];
const CLUSTER: &[&str] = &["aws_rds_cluster"];

pub(crate) const DB_INSTANCE: Model = Model {
    resource_type: "aws_db_instance",
    keys: &[
        "instance_class",
        "engine",
        "multi_az",
        "allocated_storage",
        "storage_type",
        "iops",
        "replicate_source_db",
    ],
    usage_keys: &["additional_backup_storage_gb"],
    price: db_instance,
};

fn engine_key(engine: &str) -> String {
    let e = engine.trim().to_ascii_lowercase();
    match e.as_str() {
        "postgresql" => "postgres".into(),
        _ => e,
    }
}

fn db_instance(p: &mut Pricer<'_>) -> Result<(), Stop> {
    let class = match p.attrs.str("instance_class") {
        Some(c) => c.to_string(),
        None if p.attrs.is_unknown("instance_class") => return Err(p.unknown("instance_class")),
        None => return Err(Stop::Unpriced("instance_class is not set".into())),
    };
    let engine = match p.attrs.str("engine") {
        Some(e) => engine_key(e),
        None if p.attrs.is_unknown("engine") => return Err(p.unknown("engine")),
        // A read replica inherits the engine of its source.
        None => {
            return Err(Stop::Unpriced(
                "engine is not set (a replica's source decides)".into(),
            ))
        }
    };
    if engine.starts_with("aurora") {
        // An Aurora instance created as aws_db_instance: priced like a cluster instance.
        p.add_hourly(
            format!("Database instance (on-demand, {class}, {engine})"),
            1.0,
            AURORA,
            "instance_hours",
            &format!("{class}|{engine}"),
            None,
        )?;
        return Ok(());
    }
    let multi = p.attrs.bool("multi_az") == Some(true);
    let deployment = if multi { "multi-az" } else { "single-az" };
    let shown = if multi { "Multi-AZ" } else { "Single-AZ" };
    let price = p.add_hourly(
        format!("Database instance (on-demand, {shown}, {class}, {engine})"),
        1.0,
        RDS,
        "instance_hours",
        &format!("{class}|{engine}|{deployment}"),
        None,
    )?;
    if multi {
        p.class(
            arbiter_verdict::CostClass::MultiAz,
            format!(
                "Multi-AZ {class} ({engine}), {}/hour",
                usd(price.usd, MoneyStyle::Exact)
            ),
        );
    }
    let iops = p.checked("iops", 256_000.0)?.filter(|i| *i > 0.0);
    let (stype, type_note) = match p.attrs.str("storage_type") {
        Some(t) => (t.to_string(), None),
        None => {
            let t = if iops.is_some() { "io1" } else { "gp2" };
            (
                t.to_string(),
                Some(format!(
                    "storage_type not known: {t} (the provider default) assumed"
                )),
            )
        }
    };
    let (gb, size_note) = match p.checked("allocated_storage", MAX_VOLUME_GB)? {
        Some(g) => (g, None),
        None => (
            20.0,
            Some(if p.attrs.is_unknown("allocated_storage") {
                "allocated_storage known only after apply (a replica takes its source's): 20 GB assumed".to_string()
            } else {
                "allocated_storage not set: 20 GB assumed".to_string()
            }),
        ),
    };
    let note = match (type_note, size_note) {
        (None, None) => None,
        (a, b) => Some([a, b].into_iter().flatten().collect::<Vec<_>>().join("; ")),
    };
    let sku_type = if stype == "standard" {
        "magnetic"
    } else {
        stype.as_str()
    };
    let desc = match sku_type {
        "gp2" => "general purpose SSD, gp2",
        "gp3" => "general purpose SSD, gp3",
        "io1" => "provisioned IOPS SSD, io1",
        "io2" => "provisioned IOPS SSD, io2",
        "magnetic" => "magnetic",
        other => return Err(Stop::Unpriced(format!("unknown storage_type {other:?}"))),
    };
    p.add_priced(
        format!("Storage ({desc}, {shown})"),
        "GB",
        gb,
        RDS,
        "storage",
        &format!("{sku_type}|{deployment}"),
        note.map(Text::from),
    )?;
    match sku_type {
        "gp3" => {
            // gp3 includes 3,000 IOPS below 400 GB and 12,000 from 400 GB
            // (MySQL, MariaDB, PostgreSQL).
            let baseline = if gb >= 400.0 { 12_000.0 } else { 3_000.0 };
            if let Some(i) = iops {
                if i > baseline {
                    p.add_priced(
                        format!("Provisioned GP3 IOPS (above {})", thousands(baseline)),
                        "IOPS",
                        i - baseline,
                        RDS,
                        "provisioned_iops",
                        &format!("gp3|{deployment}"),
                        None,
                    )?;
                }
            }
        }
        "io1" | "io2" => {
            let i =
                iops.ok_or_else(|| Stop::Unpriced(format!("{sku_type} storage without iops")))?;
            p.add_priced(
                format!("Provisioned IOPS ({sku_type}, {shown})"),
                "IOPS",
                i,
                RDS,
                "provisioned_iops",
                &format!("{sku_type}|{deployment}"),
                None,
            )?;
        }
        _ => {}
    }
    if let Some(i) = iops.filter(|i| *i >= LARGE_IOPS) {
        p.class(
            arbiter_verdict::CostClass::ProvisionedIops,
            format!("{} provisioned IOPS ({sku_type}, {shown})", trim_num(i)),
        );
    }
    p.add_usage(
        "Additional backup storage",
        "GB",
        "additional_backup_storage_gb",
        0.0,
        1.0,
        RDS,
        "backup_storage",
        "rds",
    )
}

fn thousands(v: f64) -> String {
    let s = format!("{v:.0}");
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub(crate) const RDS_CLUSTER: Model = Model {
    resource_type: "aws_rds_cluster",
    keys: &["engine", "engine_mode", "storage_type"],
    usage_keys: &[
        "storage_gb",
        "write_requests_per_sec",
        "read_requests_per_sec",
        "backup_snapshot_size_gb",
        "snapshot_export_size_gb",
        "capacity_units_per_hr",
    ],
    price: rds_cluster,
};

fn rds_cluster(p: &mut Pricer<'_>) -> Result<(), Stop> {
    let engine = p
        .attrs
        .str("engine")
        .map(engine_key)
        .unwrap_or_else(|| "aurora".into());
    if !engine.starts_with("aurora") {
        // Multi-AZ DB clusters of RDS MySQL/PostgreSQL: not in the catalogue.
        return Err(Stop::Unpriced(format!(
            "engine {engine:?}: Multi-AZ DB cluster prices are not in the catalogue (Aurora only)"
        )));
    }
    if p.attrs.str("engine_mode") == Some("serverless") {
        p.add_usage(
            "Aurora Serverless v1 capacity",
            "ACU-hours",
            "capacity_units_per_hr",
            0.0,
            HOURS_PER_MONTH,
            CLUSTER,
            "acu_hours",
            "aurora-serverless-v1",
        )?;
    }
    let io_optimized = p.attrs.str("storage_type") == Some("aurora-iopt1");
    if io_optimized {
        p.add_usage(
            "Storage (I/O-optimized)",
            "GB",
            "storage_gb",
            0.0,
            1.0,
            CLUSTER,
            "storage",
            "aurora-io-optimized",
        )?;
    } else {
        p.add_usage(
            "Storage (Aurora standard)",
            "GB",
            "storage_gb",
            0.0,
            1.0,
            CLUSTER,
            "storage",
            "aurora-standard",
        )?;
        let w = p.usage.get("write_requests_per_sec");
        let r = p.usage.get("read_requests_per_sec");
        let (q, a) = match (w, r) {
            (None, None) => (
                0.0,
                Some("no usage given: 0 assumed; set write_requests_per_sec and read_requests_per_sec in the usage file".to_string()),
            ),
            _ => (
                (w.unwrap_or(0.0) + r.unwrap_or(0.0)) * 3600.0 * HOURS_PER_MONTH / 1e6,
                None,
            ),
        };
        p.add_priced(
            "I/O requests (Aurora standard)",
            "1M requests",
            q,
            CLUSTER,
            "io_requests",
            "aurora-standard",
            a.map(Text::from),
        )?;
    }
    p.add_usage(
        "Backup storage",
        "GB",
        "backup_snapshot_size_gb",
        0.0,
        1.0,
        CLUSTER,
        "backup_storage",
        "aurora",
    )?;
    p.add_usage(
        "Snapshot export",
        "GB",
        "snapshot_export_size_gb",
        0.0,
        1.0,
        CLUSTER,
        "snapshot_export",
        "aurora",
    )
}

pub(crate) const RDS_CLUSTER_INSTANCE: Model = Model {
    resource_type: "aws_rds_cluster_instance",
    keys: &["instance_class", "engine"],
    usage_keys: &["capacity_units_per_hr"],
    price: rds_cluster_instance,
};

fn rds_cluster_instance(p: &mut Pricer<'_>) -> Result<(), Stop> {
    let class = match p.attrs.str("instance_class") {
        Some(c) => c.to_string(),
        None if p.attrs.is_unknown("instance_class") => return Err(p.unknown("instance_class")),
        None => return Err(Stop::Unpriced("instance_class is not set".into())),
    };
    let engine = p
        .attrs
        .str("engine")
        .map(engine_key)
        .unwrap_or_else(|| "aurora".into());
    if class == "db.serverless" {
        return p.add_usage(
            "Aurora Serverless v2 capacity (standard storage)",
            "ACU-hours",
            "capacity_units_per_hr",
            0.0,
            HOURS_PER_MONTH,
            AURORA,
            "acu_hours",
            "aurora-serverless-v2|standard",
        );
    }
    p.add_hourly(
        format!("Database instance (on-demand, {class}, {engine})"),
        1.0,
        AURORA,
        "instance_hours",
        &format!("{class}|{engine}"),
        None,
    )?;
    Ok(())
}

const CACHE: &[&str] = &[
    "aws_elasticache_cluster",
    "aws_elasticache_replication_group",
];

pub(crate) const ELASTICACHE_CLUSTER: Model = Model {
    resource_type: "aws_elasticache_cluster",
    keys: &[
        "node_type",
        "num_cache_nodes",
        "engine",
        "replication_group_id",
        "snapshot_retention_limit",
    ],
    usage_keys: &["snapshot_storage_size_gb"],
    price: elasticache_cluster,
};

fn cache_engine_ok(engine: Option<&str>) -> Result<(), Stop> {
    match engine.map(str::to_ascii_lowercase).as_deref() {
        None | Some("redis") | Some("memcached") => Ok(()),
        Some(other) => Err(Stop::Unpriced(format!(
            "engine {other:?}: the catalogue has Redis/Memcached node prices only"
        ))),
    }
}

/// The node type of a cluster or replication group whose engine the
/// catalogue prices.
fn cache_node_type(p: &Pricer<'_>) -> Result<String, Stop> {
    cache_engine_ok(p.attrs.str("engine"))?;
    match p.attrs.str("node_type") {
        Some(n) => Ok(n.to_string()),
        None => Err(Stop::Unpriced("node_type is not known".into())),
    }
}

/// `n` nodes of a type for a month, and backup storage when snapshots are
/// kept longer than the free day.
fn add_cache_nodes(p: &mut Pricer<'_>, node: &str, n: f64) -> Result<(), Stop> {
    p.add_hourly(
        times(&format!("ElastiCache ({node})"), n),
        n,
        CACHE,
        "node_hours",
        node,
        None,
    )?;
    if p.attrs.num("snapshot_retention_limit").unwrap_or(0.0) > 1.0 {
        p.add_usage(
            "Backup storage",
            "GB",
            "snapshot_storage_size_gb",
            0.0,
            1.0,
            CACHE,
            "backup_storage",
            "snapshot",
        )?;
    }
    Ok(())
}

fn elasticache_cluster(p: &mut Pricer<'_>) -> Result<(), Stop> {
    if let Some(rg) = p.attrs.str("replication_group_id") {
        return Err(Stop::Free(format!(
            "a member of replication group {rg:?}, which carries the node cost"
        )));
    }
    let node = cache_node_type(p)?;
    let n = check(
        "num_cache_nodes",
        p.attrs.num("num_cache_nodes").unwrap_or(1.0),
        1000.0,
    )?;
    add_cache_nodes(p, &node, n)
}

pub(crate) const ELASTICACHE_REPLICATION_GROUP: Model = Model {
    resource_type: "aws_elasticache_replication_group",
    keys: &[
        "node_type",
        "num_cache_clusters",
        "number_cache_clusters",
        "num_node_groups",
        "replicas_per_node_group",
        "cluster_mode",
        "engine",
        "snapshot_retention_limit",
    ],
    usage_keys: &["snapshot_storage_size_gb"],
    price: elasticache_replication_group,
};

fn elasticache_replication_group(p: &mut Pricer<'_>) -> Result<(), Stop> {
    let node = cache_node_type(p)?;
    let cm = p.attrs.block("cluster_mode").cloned();
    let groups = p.attrs.num("num_node_groups").or_else(|| {
        cm.as_ref()
            .and_then(|c| c.get("num_node_groups"))
            .and_then(as_num)
    });
    let replicas = p.attrs.num("replicas_per_node_group").or_else(|| {
        cm.as_ref()
            .and_then(|c| c.get("replicas_per_node_group"))
            .and_then(as_num)
    });
    let n = match groups {
        Some(g) if g > 0.0 => g * (replicas.unwrap_or(0.0) + 1.0),
        _ => p
            .attrs
            .num("num_cache_clusters")
            .or_else(|| p.attrs.num("number_cache_clusters"))
            .unwrap_or(1.0),
    };
    let n = check("nodes", n, 1000.0)?;
    add_cache_nodes(p, &node, n)
}

pub(crate) const DYNAMODB_TABLE: Model = Model {
    resource_type: "aws_dynamodb_table",
    keys: &[
        "billing_mode",
        "read_capacity",
        "write_capacity",
        "replica",
        "table_class",
        "point_in_time_recovery",
    ],
    usage_keys: &[
        "monthly_write_request_units",
        "monthly_read_request_units",
        "storage_gb",
        "pitr_backup_storage_gb",
        "on_demand_backup_storage_gb",
        "monthly_data_restored_gb",
        "monthly_streams_read_request_units",
    ],
    price: dynamodb_table,
};

fn dynamodb_table(p: &mut Pricer<'_>) -> Result<(), Stop> {
    const T: &[&str] = &["aws_dynamodb_table"];
    if let Some(c) = p.attrs.str("table_class").filter(|c| *c != "STANDARD") {
        return Err(Stop::Unpriced(format!(
            "table_class {c:?}: the catalogue has Standard table prices only"
        )));
    }
    if !p.attrs.blocks("replica").is_empty() {
        return Err(Stop::Unpriced(
            "global table replicas: replicated write prices are not in the catalogue".into(),
        ));
    }
    let mode = p
        .attrs
        .str("billing_mode")
        .unwrap_or("PROVISIONED")
        .to_ascii_uppercase();
    if mode == "PAY_PER_REQUEST" {
        p.add_usage(
            "Write request units (on-demand)",
            "1M WRU",
            "monthly_write_request_units",
            0.0,
            1e-6,
            T,
            "on_demand_write_request_units",
            "standard",
        )?;
        p.add_usage(
            "Read request units (on-demand)",
            "1M RRU",
            "monthly_read_request_units",
            0.0,
            1e-6,
            T,
            "on_demand_read_request_units",
            "standard",
        )?;
    } else {
        let rcu = check(
            "read_capacity",
            p.attrs.num("read_capacity").unwrap_or(0.0),
            1e7,
        )?;
        let wcu = check(
            "write_capacity",
            p.attrs.num("write_capacity").unwrap_or(0.0),
            1e7,
        )?;
        p.add_priced(
            format!("Read capacity ({} RCU)", trim_num(rcu)),
            "RCU-hours",
            rcu * HOURS_PER_MONTH,
            T,
            "provisioned_rcu_hours",
            "standard",
            None,
        )?;
        p.add_priced(
            format!("Write capacity ({} WCU)", trim_num(wcu)),
            "WCU-hours",
            wcu * HOURS_PER_MONTH,
            T,
            "provisioned_wcu_hours",
            "standard",
            None,
        )?;
    }
    p.add_usage(
        "Data storage",
        "GB",
        "storage_gb",
        0.0,
        1.0,
        T,
        "storage",
        "standard",
    )?;
    let pitr = p
        .attrs
        .block("point_in_time_recovery")
        .and_then(|b| b.get("enabled"))
        .and_then(Value::as_bool)
        == Some(true);
    if pitr {
        p.add_usage(
            "Point-in-time recovery backup",
            "GB",
            "pitr_backup_storage_gb",
            0.0,
            1.0,
            T,
            "pitr_backup_storage",
            "standard",
        )?;
    }
    p.add_usage(
        "On-demand backup storage",
        "GB",
        "on_demand_backup_storage_gb",
        0.0,
        1.0,
        T,
        "on_demand_backup_storage",
        "standard",
    )?;
    p.add_usage(
        "Table data restored",
        "GB",
        "monthly_data_restored_gb",
        0.0,
        1.0,
        T,
        "restore",
        "standard",
    )?;
    p.add_usage(
        "Streams read request units",
        "sRRU",
        "monthly_streams_read_request_units",
        0.0,
        1.0,
        T,
        "streams_read_request_units",
        "standard",
    )
}

pub(crate) const REDSHIFT_CLUSTER: Model = Model {
    resource_type: "aws_redshift_cluster",
    keys: &["node_type", "number_of_nodes", "cluster_type"],
    usage_keys: &[
        "managed_storage_gb",
        "excess_backup_storage_gb",
        "monthly_spectrum_data_scanned_tb",
    ],
    price: redshift_cluster,
};

fn redshift_cluster(p: &mut Pricer<'_>) -> Result<(), Stop> {
    const T: &[&str] = &["aws_redshift_cluster"];
    let node = match p.attrs.str("node_type") {
        Some(n) => n.to_string(),
        None => return Err(Stop::Unpriced("node_type is not known".into())),
    };
    let n = check(
        "number_of_nodes",
        p.attrs.num("number_of_nodes").unwrap_or(1.0),
        1000.0,
    )?;
    p.add_hourly(
        times(&format!("Cluster usage ({node})"), n),
        n,
        T,
        "node_hours",
        &node,
        None,
    )?;
    if node.starts_with("ra3.") {
        p.add_usage(
            "Managed storage (RA3)",
            "GB",
            "managed_storage_gb",
            0.0,
            1.0,
            T,
            "managed_storage",
            "ra3",
        )?;
    }
    p.add_usage(
        "Backup storage (first 50 TB)",
        "GB",
        "excess_backup_storage_gb",
        0.0,
        1.0,
        T,
        "backup_storage_first_50tb",
        "backup",
    )?;
    p.add_usage(
        "Spectrum data scanned",
        "TB",
        "monthly_spectrum_data_scanned_tb",
        0.0,
        1.0,
        T,
        "spectrum_scanned",
        "spectrum",
    )
}

pub(crate) const OPENSEARCH_DOMAIN: Model = Model {
    resource_type: "aws_opensearch_domain",
    keys: &["cluster_config", "ebs_options"],
    usage_keys: &[],
    price: search_domain,
};

pub(crate) const ELASTICSEARCH_DOMAIN: Model = Model {
    resource_type: "aws_elasticsearch_domain",
    keys: OPENSEARCH_DOMAIN.keys,
    usage_keys: &[],
    price: search_domain,
};

fn search_domain(p: &mut Pricer<'_>) -> Result<(), Stop> {
    const T: &[&str] = &["aws_opensearch_domain"];
    let cc = p.attrs.block("cluster_config").cloned().unwrap_or_default();
    let s = |k: &str| {
        cc.get(k)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let n = |k: &str| cc.get(k).and_then(as_num);
    let b = |k: &str| cc.get(k).and_then(Value::as_bool) == Some(true);
    // Elasticsearch instance names end in .elasticsearch; the renamed
    // service prices the same instances under .search.
    let norm = |t: String| match t.strip_suffix(".elasticsearch") {
        Some(base) => format!("{base}.search"),
        None => t,
    };
    let it = s("instance_type")
        .map(norm)
        .ok_or_else(|| Stop::Unpriced("cluster_config.instance_type is not known".into()))?;
    let count = check(
        "cluster_config.instance_count",
        n("instance_count").unwrap_or(1.0),
        1000.0,
    )?;
    p.add_hourly(
        times(&format!("Instance ({it})"), count),
        count,
        T,
        "instance_hours",
        &it,
        None,
    )?;
    if b("dedicated_master_enabled") {
        let mt = s("dedicated_master_type")
            .map(norm)
            .unwrap_or_else(|| it.clone());
        let mc = check(
            "cluster_config.dedicated_master_count",
            n("dedicated_master_count").unwrap_or(3.0),
            100.0,
        )?;
        p.add_hourly(
            times(&format!("Dedicated master ({mt})"), mc),
            mc,
            T,
            "instance_hours",
            &mt,
            None,
        )?;
    }
    if b("warm_enabled") {
        let wt = s("warm_type")
            .map(norm)
            .ok_or_else(|| Stop::Unpriced("cluster_config.warm_type is not known".into()))?;
        let wc = check(
            "cluster_config.warm_count",
            n("warm_count").unwrap_or(2.0),
            1000.0,
        )?;
        p.add_hourly(
            times(&format!("UltraWarm ({wt})"), wc),
            wc,
            T,
            "instance_hours",
            &wt,
            None,
        )?;
    }
    let ebs = p.attrs.block("ebs_options").cloned().unwrap_or_default();
    if ebs.get("ebs_enabled").and_then(Value::as_bool) == Some(true) {
        let vt = ebs
            .get("volume_type")
            .and_then(Value::as_str)
            .unwrap_or("gp2")
            .to_string();
        let size = check(
            "ebs_options.volume_size",
            ebs.get("volume_size").and_then(as_num).unwrap_or(10.0),
            MAX_VOLUME_GB,
        )?;
        let sku = if vt == "standard" {
            "standard"
        } else {
            vt.as_str()
        };
        p.add_priced(
            format!("Storage ({vt}) × {}", trim_num(count)),
            "GB",
            size * count,
            T,
            "storage",
            sku,
            None,
        )?;
        if vt == "io1" {
            let iops = check(
                "ebs_options.iops",
                ebs.get("iops").and_then(as_num).unwrap_or(0.0),
                256_000.0,
            )?;
            p.add_priced(
                format!("Provisioned IOPS (io1) × {}", trim_num(count)),
                "IOPS",
                iops * count,
                T,
                "provisioned_iops",
                "io1",
                None,
            )?;
            if iops >= LARGE_IOPS {
                p.class(
                    arbiter_verdict::CostClass::ProvisionedIops,
                    format!("{} provisioned IOPS per node (io1)", trim_num(iops)),
                );
            }
        }
    }
    Ok(())
}

pub(crate) const MSK_CLUSTER: Model = Model {
    resource_type: "aws_msk_cluster",
    keys: &["number_of_broker_nodes", "broker_node_group_info"],
    usage_keys: &[],
    price: msk_cluster,
};

fn msk_cluster(p: &mut Pricer<'_>) -> Result<(), Stop> {
    const T: &[&str] = &["aws_msk_cluster"];
    let n = check(
        "number_of_broker_nodes",
        p.attrs.num("number_of_broker_nodes").unwrap_or(0.0),
        MAX_COUNT,
    )?;
    let info = p
        .attrs
        .block("broker_node_group_info")
        .cloned()
        .unwrap_or_default();
    let it = info
        .get("instance_type")
        .and_then(Value::as_str)
        .ok_or_else(|| Stop::Unpriced("broker_node_group_info.instance_type is not known".into()))?
        .to_string();
    p.add_hourly(
        times(&format!("Broker instance ({it})"), n),
        n,
        T,
        "broker_hours",
        &it,
        None,
    )?;
    let size = info.get("ebs_volume_size").and_then(as_num).or_else(|| {
        info.get("storage_info")
            .and_then(|s| s.get(0))
            .and_then(|s| s.get("ebs_storage_info"))
            .and_then(|s| s.get(0))
            .and_then(|s| s.get("volume_size"))
            .and_then(as_num)
    });
    let (gb, a) = match size {
        Some(g) => (check("volume_size", g, 16_384.0)?, None),
        None => (
            1000.0,
            Some("broker volume_size not set: 1000 GB (the MSK default) assumed".to_string()),
        ),
    };
    p.add_priced(
        format!("Broker storage × {}", trim_num(n)),
        "GB",
        gb * n,
        T,
        "storage",
        "broker-storage",
        a.map(Text::from),
    )
}

pub(crate) const CLOUDWATCH_LOG_GROUP: Model = Model {
    resource_type: "aws_cloudwatch_log_group",
    keys: &["log_group_class"],
    usage_keys: &[
        "storage_gb",
        "monthly_data_ingested_gb",
        "monthly_data_scanned_gb",
    ],
    price: log_group,
};

fn log_group(p: &mut Pricer<'_>) -> Result<(), Stop> {
    const T: &[&str] = &["aws_cloudwatch_log_group"];
    let class = p
        .attrs
        .str("log_group_class")
        .unwrap_or("STANDARD")
        .to_ascii_uppercase();
    let sku = if class == "STANDARD" {
        "standard"
    } else {
        "infrequent-access"
    };
    p.add_usage(
        "Data ingested",
        "GB",
        "monthly_data_ingested_gb",
        0.0,
        1.0,
        T,
        "ingestion",
        sku,
    )?;
    p.add_usage(
        "Archival storage",
        "GB",
        "storage_gb",
        0.0,
        1.0,
        T,
        "storage",
        sku,
    )?;
    p.add_usage(
        "Insights queries data scanned",
        "GB",
        "monthly_data_scanned_gb",
        0.0,
        1.0,
        T,
        "insights_data_scanned",
        sku,
    )
}

pub(crate) const CLOUDWATCH_METRIC_ALARM: Model = Model {
    resource_type: "aws_cloudwatch_metric_alarm",
    keys: &["period", "metric_query"],
    usage_keys: &[],
    price: metric_alarm,
};

fn metric_alarm(p: &mut Pricer<'_>) -> Result<(), Stop> {
    const T: &[&str] = &["aws_cloudwatch_metric_alarm"];
    let queries = p.attrs.blocks("metric_query");
    let metrics = if queries.is_empty() {
        1.0
    } else {
        queries
            .iter()
            .filter(|q| {
                q.get("metric")
                    .and_then(Value::as_array)
                    .is_some_and(|m| !m.is_empty())
            })
            .count() as f64
    };
    let period = p.attrs.num("period").or_else(|| {
        queries
            .iter()
            .filter_map(|q| {
                q.get("metric")
                    .and_then(|m| m.get(0))
                    .and_then(|m| m.get("period"))
                    .and_then(as_num)
            })
            .reduce(f64::min)
    });
    let high = period.is_some_and(|s| s < 60.0);
    let (sku, label) = if high {
        ("high-resolution", "High resolution")
    } else {
        ("standard-resolution", "Standard resolution")
    };
    p.add_priced(
        format!("{label} alarm metrics"),
        "alarm metrics",
        metrics,
        T,
        "alarm_metrics",
        sku,
        None,
    )
}

const DOCDB: &[&str] = &["aws_docdb_cluster_instance"];

pub(crate) const DOCDB_CLUSTER_INSTANCE: Model = Model {
    resource_type: "aws_docdb_cluster_instance",
    keys: &["instance_class"],
    usage_keys: &["monthly_cpu_credit_hrs"],
    price: docdb_instance,
};

fn docdb_instance(p: &mut Pricer<'_>) -> Result<(), Stop> {
    let class = match p.attrs.str("instance_class") {
        Some(c) => c.to_string(),
        None if p.attrs.is_unknown("instance_class") => return Err(p.unknown("instance_class")),
        None => return Err(Stop::Unpriced("instance_class is not set".into())),
    };
    p.add_hourly(
        format!("Database instance (on-demand, {class})"),
        1.0,
        DOCDB,
        "instance_hours",
        &class,
        None,
    )?;
    // Burstable classes bill CPU credits spent above their baseline.
    if class.starts_with("db.t3.") {
        p.add_usage(
            "CPU credits",
            "vCPU-hours",
            "monthly_cpu_credit_hrs",
            0.0,
            1.0,
            DOCDB,
            "cpu_credits",
            "t3",
        )?;
    } else if class.starts_with("db.t4g.") && p.usage.get("monthly_cpu_credit_hrs").is_some() {
        return Err(Stop::Unpriced(
            "db.t4g CPU credits: the catalogue has the db.t3 rate only".into(),
        ));
    }
    Ok(())
}

pub(crate) const DOCDB_CLUSTER: Model = Model {
    resource_type: "aws_docdb_cluster",
    keys: &["storage_type"],
    usage_keys: &["storage_gb", "monthly_io_requests", "backup_storage_gb"],
    price: docdb_cluster,
};

fn docdb_cluster(p: &mut Pricer<'_>) -> Result<(), Stop> {
    if p.attrs.str("storage_type") == Some("iopt1") {
        return Err(Stop::Unpriced(
            "I/O-optimized DocumentDB storage: the catalogue has standard storage prices only"
                .into(),
        ));
    }
    // Storage and I/O belong to the cluster (its instances share them);
    // the instances carry the compute.
    p.add_usage(
        "Storage",
        "GB",
        "storage_gb",
        0.0,
        1.0,
        DOCDB,
        "storage",
        "standard",
    )?;
    p.add_usage(
        "I/O requests",
        "1M requests",
        "monthly_io_requests",
        0.0,
        1e-6,
        DOCDB,
        "io_requests",
        "standard",
    )?;
    p.add_usage(
        "Backup storage",
        "GB",
        "backup_storage_gb",
        0.0,
        1.0,
        &["aws_docdb_cluster"],
        "backup_storage",
        "standard",
    )
}
