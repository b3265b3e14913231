//! EC2: instances, autoscaling groups (through their launch template or
//! configuration), EKS node groups, EBS volumes and snapshots.

use super::{check, times, trim_num, Model, Pricer, Side, Stop, Text};
use crate::attrs::{as_num, Attrs};
use crate::catalogue::Catalogue;
use arbiter_verdict::money::{usd, MoneyStyle};
use serde_json::{Map, Value};

const EC2: &[&str] = &["aws_instance"];
const EBS: &[&str] = &["aws_ebs_volume"];

/// Largest EBS volume (64 TiB) in GB.
pub(crate) const MAX_VOLUME_GB: f64 = 65_536.0;
/// Most provisioned IOPS of any EBS volume.
const MAX_IOPS: f64 = 256_000.0;
/// Most throughput of any EBS volume, MB/s.
const MAX_THROUGHPUT: f64 = 4_000.0;
/// Most instances one group or node group may be asked to run.
pub(crate) const MAX_COUNT: f64 = 100_000.0;
/// IOPS from which provisioned IOPS count as an expensive class.
pub(crate) const LARGE_IOPS: f64 = 10_000.0;
/// What an AMI's root volume is assumed to be when the plan cannot say.
const DEFAULT_ROOT_GB: f64 = 8.0;
/// Metrics EC2 detailed monitoring publishes per instance (Infracost's count).
const DETAILED_MONITORING_METRICS: f64 = 7.0;

pub(crate) const INSTANCE: Model = Model {
    resource_type: "aws_instance",
    keys: &[
        "instance_type",
        "tenancy",
        "root_block_device",
        "ebs_block_device",
        "monitoring",
        "credit_specification",
        "instance_market_options",
        "host_id",
    ],
    usage_keys: &["monthly_cpu_credit_hrs"],
    price: instance,
};

fn instance(p: &mut Pricer<'_>) -> Result<(), Stop> {
    let it = required_str(p, "instance_type")?;
    if let Some(t) = p.attrs.str("tenancy").filter(|t| *t != "default") {
        return Err(Stop::Unpriced(format!(
            "tenancy {t:?}: the catalogue has shared-tenancy prices only"
        )));
    }
    if p.attrs.str("host_id").is_some() {
        return Err(Stop::Unpriced(
            "runs on a dedicated host: the catalogue has shared-tenancy prices only".into(),
        ));
    }
    if is_spot(p.attrs.block("instance_market_options")) {
        return Err(spot());
    }
    instance_hours(p, &it, 1.0, None)?;
    let root = p.attrs.block("root_block_device").cloned();
    let root_unknown = p.attrs.is_unknown("root_block_device");
    root_volume(p, root.as_ref(), root_unknown, 1.0)?;
    for b in p
        .attrs
        .blocks("ebs_block_device")
        .into_iter()
        .cloned()
        .collect::<Vec<_>>()
    {
        block_volume(p, "EBS volume", &b, 1.0)?;
    }
    if p.attrs.bool("monitoring") == Some(true) {
        detailed_monitoring(p, 1.0)?;
    }
    let credits = p
        .attrs
        .block("credit_specification")
        .and_then(|c| c.get("cpu_credits"))
        .and_then(Value::as_str)
        .map(str::to_string);
    cpu_credits(p, &it, credits.as_deref())
}

fn required_str(p: &Pricer<'_>, key: &str) -> Result<String, Stop> {
    match p.attrs.str(key) {
        Some(v) => Ok(v.to_string()),
        None if p.attrs.is_unknown(key) => Err(p.unknown(key)),
        None => Err(Stop::Unpriced(format!("{key} is not set"))),
    }
}

fn spot() -> Stop {
    Stop::Unpriced("spot capacity: spot prices are not in the catalogue (on-demand only)".into())
}

fn is_spot(b: Option<&Map<String, Value>>) -> bool {
    b.and_then(|m| m.get("market_type"))
        .and_then(Value::as_str)
        .is_some_and(|t| t.eq_ignore_ascii_case("spot"))
}

/// `count` instances of `instance_type` for a month, and the GPU class.
pub(crate) fn instance_hours(
    p: &mut Pricer<'_>,
    instance_type: &str,
    count: f64,
    assumption: Option<String>,
) -> Result<(), Stop> {
    let what = format!("Instance usage (Linux/UNIX, on-demand, {instance_type})");
    // One instance is named without "× 1".
    let name = if count == 1.0 {
        what
    } else {
        times(&what, count)
    };
    let price = p.add_hourly(
        name,
        count,
        EC2,
        "instance_hours",
        instance_type,
        assumption.map(Text::from),
    )?;
    if let Some(spec) = Catalogue::instance_spec(instance_type).filter(|s| s.gpus > 0) {
        let model = if spec.gpu_model.is_empty() {
            "accelerators".to_string()
        } else {
            spec.gpu_model.to_string()
        };
        p.class(
            arbiter_verdict::CostClass::Gpu,
            format!(
                "{}{instance_type}: {} × {model}, {} vCPU, {} GiB, {}/hour",
                if count == 1.0 {
                    String::new()
                } else {
                    format!("{} × ", trim_num(count))
                },
                spec.gpus,
                spec.vcpu,
                trim_num(spec.memory_gib),
                usd(price.usd, MoneyStyle::Exact)
            ),
        );
    }
    Ok(())
}

fn detailed_monitoring(p: &mut Pricer<'_>, count: f64) -> Result<(), Stop> {
    let price = p.price(&["aws_instance"], "detailed_monitoring", "metric")?;
    p.add(
        "EC2 detailed monitoring",
        "metrics",
        DETAILED_MONITORING_METRICS * count,
        price,
        Some(Text::Borrowed(
            "7 metrics per instance (what EC2 detailed monitoring publishes by default)",
        )),
    );
    Ok(())
}

fn cpu_credits(p: &mut Pricer<'_>, instance_type: &str, mode: Option<&str>) -> Result<(), Stop> {
    let family = instance_type.split('.').next().unwrap_or_default();
    // t3/t3a/t4g default to unlimited, t2 to standard (AWS's defaults).
    let unlimited = match mode {
        Some(m) => m.eq_ignore_ascii_case("unlimited"),
        None => matches!(family, "t3" | "t3a" | "t4g"),
    };
    if !unlimited || !family.starts_with('t') {
        return Ok(());
    }
    let sku = match family {
        "t2" => "t2",
        "t3" | "t3a" => "t3",
        other => other,
    };
    let (q, assumption) = p.usage_value("monthly_cpu_credit_hrs", 0.0);
    p.add_priced(
        "CPU credits (unlimited mode)",
        "vCPU-hours",
        q,
        EC2,
        "cpu_credits",
        sku,
        assumption,
    )
}

/// The root volume of an instance: from the plan, or the stated default
/// when the AMI decides it at apply time.
pub(crate) fn root_volume(
    p: &mut Pricer<'_>,
    block: Option<&Map<String, Value>>,
    unknown: bool,
    count: f64,
) -> Result<(), Stop> {
    let size = block.and_then(|b| b.get("volume_size")).and_then(as_num);
    let vtype = block
        .and_then(|b| b.get("volume_type"))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty());
    match (size, vtype) {
        (Some(_), Some(_)) => match block {
            Some(b) => block_volume(p, "Root volume", b, count),
            None => Ok(()),
        },
        _ => {
            let size = match size {
                Some(s) => check("root_block_device.volume_size", s, MAX_VOLUME_GB)?,
                None => DEFAULT_ROOT_GB,
            };
            let vtype = vtype.unwrap_or("gp2");
            let why = if unknown || block.is_none() {
                "known only after apply (the AMI decides)"
            } else {
                "not set (the AMI decides)"
            };
            let assumption = format!(
                "root volume size or type {why}: {} GB {vtype} assumed",
                trim_num(size)
            );
            price_volume(
                p,
                &VolumeSpec {
                    label: "Root volume",
                    vtype,
                    size_gb: size,
                    iops: None,
                    throughput: None,
                    count,
                    assumption: Some(assumption),
                },
            )
        }
    }
}

/// A block device mapping (`root_block_device`, `ebs_block_device`, a
/// launch template's `ebs` block).
pub(crate) fn block_volume(
    p: &mut Pricer<'_>,
    label: &str,
    b: &Map<String, Value>,
    count: f64,
) -> Result<(), Stop> {
    let num = |k: &str| b.get(k).and_then(as_num);
    let vtype = b
        .get("volume_type")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty());
    let (size, size_assumed) = match num("volume_size") {
        Some(s) => (check("volume_size", s, MAX_VOLUME_GB)?, None),
        None => (
            DEFAULT_ROOT_GB,
            Some(format!(
                "{label} size not set (the snapshot or AMI decides): {} GB assumed",
                trim_num(DEFAULT_ROOT_GB)
            )),
        ),
    };
    let (vtype, type_assumed) = match vtype {
        Some(t) => (t, None),
        None => ("gp2", Some(format!("{label} type not set: gp2 assumed"))),
    };
    let assumption = match (size_assumed, type_assumed) {
        (None, None) => None,
        (a, b) => Some([a, b].into_iter().flatten().collect::<Vec<_>>().join("; ")),
    };
    let iops = match num("iops") {
        Some(v) => Some(check("iops", v, MAX_IOPS)?),
        None => None,
    };
    let throughput = match num("throughput") {
        Some(v) => Some(check("throughput", v, MAX_THROUGHPUT)?),
        None => None,
    };
    price_volume(
        p,
        &VolumeSpec {
            label,
            vtype,
            size_gb: size,
            iops,
            throughput,
            count,
            assumption,
        },
    )
}

/// An EBS volume to price.
pub(crate) struct VolumeSpec<'s> {
    pub label: &'s str,
    pub vtype: &'s str,
    pub size_gb: f64,
    pub iops: Option<f64>,
    pub throughput: Option<f64>,
    pub count: f64,
    pub assumption: Option<String>,
}

/// Storage, and IOPS and throughput beyond what the volume type includes.
pub(crate) fn price_volume(p: &mut Pricer<'_>, v: &VolumeSpec<'_>) -> Result<(), Stop> {
    let desc = match v.vtype {
        "gp2" => "general purpose SSD, gp2",
        "gp3" => "general purpose SSD, gp3",
        "io1" => "provisioned IOPS SSD, io1",
        "io2" => "provisioned IOPS SSD, io2",
        "st1" => "throughput optimized HDD, st1",
        "sc1" => "cold HDD, sc1",
        "standard" => "magnetic",
        other => {
            return Err(Stop::Unpriced(format!(
                "{}: unknown EBS volume type {other:?}",
                v.label
            )))
        }
    };
    let times = if v.count == 1.0 {
        String::new()
    } else {
        format!(" × {}", trim_num(v.count))
    };
    p.add_priced(
        format!("{}: storage ({desc}){times}", v.label),
        "GB",
        v.size_gb * v.count,
        EBS,
        "storage",
        v.vtype,
        v.assumption.clone().map(Text::from),
    )?;
    match v.vtype {
        "gp3" => {
            // gp3 includes 3,000 IOPS and 125 MB/s; only what is above is billed.
            let extra_iops = (v.iops.unwrap_or(3000.0) - 3000.0).max(0.0);
            if extra_iops > 0.0 {
                p.add_priced(
                    format!("{}: provisioned IOPS (gp3, above 3,000){times}", v.label),
                    "IOPS",
                    extra_iops * v.count,
                    EBS,
                    "provisioned_iops",
                    "gp3",
                    None,
                )?;
            }
            if v.iops.unwrap_or(0.0) >= LARGE_IOPS {
                p.class(
                    arbiter_verdict::CostClass::ProvisionedIops,
                    format!(
                        "{}: {} IOPS (gp3)",
                        v.label,
                        trim_num(v.iops.unwrap_or(0.0))
                    ),
                );
            }
            let extra_tp = (v.throughput.unwrap_or(125.0) - 125.0).max(0.0);
            if extra_tp > 0.0 {
                p.add_priced(
                    format!(
                        "{}: provisioned throughput (gp3, above 125 MB/s){times}",
                        v.label
                    ),
                    "MB/s",
                    extra_tp * v.count,
                    EBS,
                    "provisioned_throughput",
                    "gp3",
                    None,
                )?;
            }
        }
        "io1" | "io2" => {
            let iops = v.iops.ok_or_else(|| {
                Stop::Unpriced(format!(
                    "{}: {} volume without iops (known only after apply or not set)",
                    v.label, v.vtype
                ))
            })?;
            if v.vtype == "io2" && iops > 32_000.0 {
                return Err(Stop::Unpriced(format!(
                    "{}: io2 IOPS above 32,000 are billed at tier prices the catalogue lacks",
                    v.label
                )));
            }
            p.add_priced(
                format!("{}: provisioned IOPS ({}){times}", v.label, v.vtype),
                "IOPS",
                iops * v.count,
                EBS,
                "provisioned_iops",
                v.vtype,
                None,
            )?;
            if iops >= LARGE_IOPS {
                p.class(
                    arbiter_verdict::CostClass::ProvisionedIops,
                    format!(
                        "{}: {} provisioned IOPS ({})",
                        v.label,
                        trim_num(iops),
                        v.vtype
                    ),
                );
            }
        }
        "standard" => {
            let (q, a) = p.usage_value("monthly_standard_io_requests", 0.0);
            p.add_priced(
                format!("{}: I/O requests (magnetic)", v.label),
                "1M requests",
                q / 1e6,
                EBS,
                "io_requests",
                "standard",
                a,
            )?;
        }
        _ => {}
    }
    Ok(())
}

pub(crate) const EBS_VOLUME: Model = Model {
    resource_type: "aws_ebs_volume",
    keys: &["type", "size", "iops", "throughput"],
    usage_keys: &["monthly_standard_io_requests"],
    price: ebs_volume,
};

fn ebs_volume(p: &mut Pricer<'_>) -> Result<(), Stop> {
    let (vtype, type_note) = match p.attrs.str("type") {
        Some(t) => (t.to_string(), None),
        None => (
            "gp2".to_string(),
            Some(if p.attrs.is_unknown("type") {
                "type known only after apply: gp2 (the provider default) assumed".to_string()
            } else {
                "type not set: gp2 (the provider default) assumed".to_string()
            }),
        ),
    };
    let (size, size_note) = match p.checked("size", MAX_VOLUME_GB)? {
        Some(s) => (s, None),
        None => (
            DEFAULT_ROOT_GB,
            Some(format!(
                "size {} (from the snapshot): {} GB assumed",
                if p.attrs.is_unknown("size") {
                    "known only after apply"
                } else {
                    "not set"
                },
                trim_num(DEFAULT_ROOT_GB)
            )),
        ),
    };
    let assumption = match (type_note, size_note) {
        (None, None) => None,
        (a, b) => Some([a, b].into_iter().flatten().collect::<Vec<_>>().join("; ")),
    };
    let iops = p.checked("iops", MAX_IOPS)?;
    let throughput = p.checked("throughput", MAX_THROUGHPUT)?;
    price_volume(
        p,
        &VolumeSpec {
            label: "Volume",
            vtype: &vtype,
            size_gb: size,
            iops,
            throughput,
            count: 1.0,
            assumption,
        },
    )
}

pub(crate) const EBS_SNAPSHOT: Model = Model {
    resource_type: "aws_ebs_snapshot",
    keys: &["volume_size"],
    usage_keys: &[
        "storage_gb",
        "monthly_list_block_requests",
        "monthly_get_block_requests",
        "monthly_put_block_requests",
        "fast_snapshot_restore_hours",
    ],
    price: ebs_snapshot,
};

pub(crate) const EBS_SNAPSHOT_COPY: Model = Model {
    resource_type: "aws_ebs_snapshot_copy",
    keys: &["volume_size"],
    usage_keys: EBS_SNAPSHOT.usage_keys,
    price: ebs_snapshot,
};

fn ebs_snapshot(p: &mut Pricer<'_>) -> Result<(), Stop> {
    const SNAP: &[&str] = &["aws_ebs_snapshot"];
    let (gb, assumption) = match p.usage.get("storage_gb") {
        Some(v) => (v, None),
        None => match p.checked("volume_size", MAX_VOLUME_GB)? {
            Some(size) => (
                size,
                Some(format!(
                    "the full volume size ({} GB) assumed stored; set storage_gb in the usage file",
                    trim_num(size)
                )),
            ),
            None => (
                0.0,
                Some("snapshot size known only after apply: 0 GB assumed; set storage_gb in the usage file".into()),
            ),
        },
    };
    p.add_priced(
        "Snapshot storage",
        "GB",
        gb,
        SNAP,
        "snapshot_storage",
        "standard-tier",
        assumption.map(Text::from),
    )?;
    p.add_usage(
        "Fast snapshot restore",
        "DSU-hours",
        "fast_snapshot_restore_hours",
        0.0,
        1.0,
        SNAP,
        "fast_snapshot_restore",
        "fsr",
    )?;
    p.add_usage(
        "EBS direct API: ListChangedBlocks and ListSnapshotBlocks",
        "1k requests",
        "monthly_list_block_requests",
        0.0,
        1e-3,
        SNAP,
        "ebs_direct_api_list",
        "list-requests",
    )?;
    p.add_usage(
        "EBS direct API: GetSnapshotBlock",
        "1k SnapshotAPIUnits",
        "monthly_get_block_requests",
        0.0,
        1e-3,
        SNAP,
        "ebs_direct_api_get",
        "get-requests",
    )?;
    p.add_usage(
        "EBS direct API: PutSnapshotBlock",
        "1k SnapshotAPIUnits",
        "monthly_put_block_requests",
        0.0,
        1e-3,
        SNAP,
        "ebs_direct_api_put",
        "put-requests",
    )
}

pub(crate) const ASG: Model = Model {
    resource_type: "aws_autoscaling_group",
    keys: &[
        "desired_capacity",
        "min_size",
        "launch_configuration",
        "launch_template",
        "mixed_instances_policy",
    ],
    usage_keys: &["monthly_cpu_credit_hrs"],
    price: autoscaling_group,
};

const TEMPLATE_KEYS: &[&str] = &[
    "instance_type",
    "block_device_mappings",
    "monitoring",
    "instance_market_options",
    "placement",
    "credit_specification",
    "name",
    "id",
];

const LAUNCH_CONFIG_KEYS: &[&str] = &[
    "instance_type",
    "root_block_device",
    "ebs_block_device",
    "enable_monitoring",
    "spot_price",
    "placement_tenancy",
    "name",
];

fn capacity(p: &Pricer<'_>, desired: &str, min: &str) -> Result<(f64, Option<String>), Stop> {
    let get = |a: &Attrs, k: &str| a.num(k);
    match get(p.attrs, desired) {
        Some(n) => Ok((check(desired, n, MAX_COUNT)?, None)),
        None => {
            let why = if p.attrs.is_unknown(desired) {
                "known only after apply"
            } else {
                "not set"
            };
            match get(p.attrs, min) {
                Some(n) => {
                    let n = check(min, n, MAX_COUNT)?;
                    Ok((
                        n,
                        Some(format!(
                            "{desired} {why}: {min} ({}) assumed, what the group starts with",
                            trim_num(n)
                        )),
                    ))
                }
                None => Err(Stop::Unpriced(format!("{desired} and {min} are unknown"))),
            }
        }
    }
}

fn autoscaling_group(p: &mut Pricer<'_>) -> Result<(), Stop> {
    let (count, count_note) = capacity(p, "desired_capacity", "min_size")?;
    // 1. A launch configuration (older groups).
    if let Some(name) = p.attrs.str("launch_configuration").map(str::to_string) {
        let lc = p
            .index
            .referenced(p.rc, "aws_launch_configuration")
            .into_iter()
            .next()
            .or_else(|| p.index.find_by_attr("aws_launch_configuration", "name", &name))
            .ok_or_else(|| {
                Stop::Unpriced(format!(
                    "its launch configuration {name:?} is not in the plan, so the instance type is unknown"
                ))
            })?;
        let t = template_attrs(p, lc, LAUNCH_CONFIG_KEYS);
        if t.str("spot_price").is_some() {
            return Err(spot());
        }
        if t.str("placement_tenancy").is_some_and(|x| x != "default") {
            return Err(Stop::Unpriced(
                "dedicated placement tenancy: the catalogue has shared-tenancy prices only".into(),
            ));
        }
        let it = t
            .str("instance_type")
            .ok_or_else(|| {
                Stop::Unpriced(format!(
                    "launch configuration {} has no known instance_type",
                    lc.address
                ))
            })?
            .to_string();
        instance_hours(p, &it, count, count_note)?;
        let root = t.block("root_block_device").cloned();
        root_volume(p, root.as_ref(), t.is_unknown("root_block_device"), count)?;
        for b in t
            .blocks("ebs_block_device")
            .into_iter()
            .cloned()
            .collect::<Vec<_>>()
        {
            block_volume(p, "EBS volume", &b, count)?;
        }
        // Launch configurations enable detailed monitoring unless told not to.
        if t.bool("enable_monitoring") != Some(false) {
            detailed_monitoring(p, count)?;
        }
        return cpu_credits(p, &it, None);
    }
    // 2. A launch template, directly or in a mixed instances policy.
    let direct = p.attrs.block("launch_template").cloned();
    let mixed = p.attrs.block("mixed_instances_policy").cloned();
    let mut override_type: Option<String> = None;
    let spec: Option<(Option<String>, Option<String>)> = match (&direct, &mixed) {
        (Some(lt), _) => Some((str_of(lt, "id"), str_of(lt, "name"))),
        (None, Some(m)) => {
            if let Some(dist) = first_block(m, "instances_distribution") {
                let pct = dist
                    .get("on_demand_percentage_above_base_capacity")
                    .and_then(as_num)
                    .unwrap_or(100.0);
                if pct < 100.0 {
                    return Err(Stop::Unpriced(format!(
                        "the mixed instances policy runs {}% of the group above its base on spot; spot prices are not in the catalogue",
                        trim_num(100.0 - pct)
                    )));
                }
            }
            let lt = first_block(m, "launch_template");
            override_type = lt
                .and_then(|l| l.get("override"))
                .and_then(Value::as_array)
                .and_then(|a| a.first())
                .and_then(|o| o.get("instance_type"))
                .and_then(Value::as_str)
                .map(str::to_string);
            lt.and_then(|l| first_block(l, "launch_template_specification"))
                .map(|s| {
                    (
                        str_of(s, "launch_template_id"),
                        str_of(s, "launch_template_name"),
                    )
                })
        }
        _ => None,
    };
    let Some((id, name)) = spec else {
        return Err(Stop::Unpriced(
            "no launch template or launch configuration, so the instance type is unknown".into(),
        ));
    };
    let template = p
        .index
        .referenced(p.rc, "aws_launch_template")
        .into_iter()
        .next()
        .or_else(|| {
            id.as_deref()
                .and_then(|i| p.index.find_by_attr("aws_launch_template", "id", i))
        })
        .or_else(|| {
            name.as_deref()
                .and_then(|n| p.index.find_by_attr("aws_launch_template", "name", n))
        });
    let Some(template) = template else {
        let shown = [id.as_deref(), name.as_deref()]
            .into_iter()
            .flatten()
            .map(|s| format!("{s:?}"))
            .collect::<Vec<_>>()
            .join(" / ");
        return Err(Stop::Unpriced(format!(
            "its launch template {shown} is not in the plan, so the instance type is unknown"
        )));
    };
    let t = template_attrs(p, template, TEMPLATE_KEYS);
    price_template(p, &t, &template.address, override_type, count, count_note)
}

/// Prices `count` instances launched from a launch template's attributes.
pub(crate) fn price_template(
    p: &mut Pricer<'_>,
    t: &Attrs,
    template_address: &str,
    override_type: Option<String>,
    count: f64,
    count_note: Option<String>,
) -> Result<(), Stop> {
    if is_spot(t.block("instance_market_options")) {
        return Err(spot());
    }
    if let Some(ten) = t
        .block("placement")
        .and_then(|b| b.get("tenancy"))
        .and_then(Value::as_str)
        .filter(|x| *x != "default")
    {
        return Err(Stop::Unpriced(format!(
            "launch template tenancy {ten:?}: the catalogue has shared-tenancy prices only"
        )));
    }
    let it = match override_type.or_else(|| t.str("instance_type").map(str::to_string)) {
        Some(it) => it,
        None => {
            return Err(Stop::Unpriced(format!(
                "launch template {template_address} has no known instance_type"
            )))
        }
    };
    instance_hours(p, &it, count, count_note)?;
    let mut has_root = false;
    for m in t
        .blocks("block_device_mappings")
        .into_iter()
        .cloned()
        .collect::<Vec<_>>()
    {
        let dev = m.get("device_name").and_then(Value::as_str).unwrap_or("");
        if let Some(ebs) = first_block(&m, "ebs") {
            let root = matches!(dev, "/dev/xvda" | "/dev/sda1" | "/dev/xvda1");
            has_root |= root;
            let label = if root { "Root volume" } else { "EBS volume" };
            block_volume(p, label, ebs, count)?;
        }
    }
    if !has_root {
        root_volume(p, None, true, count)?;
    }
    if t.block("monitoring")
        .and_then(|m| m.get("enabled"))
        .and_then(Value::as_bool)
        == Some(true)
    {
        detailed_monitoring(p, count)?;
    }
    let credits = t
        .block("credit_specification")
        .and_then(|c| c.get("cpu_credits"))
        .and_then(Value::as_str)
        .map(str::to_string);
    cpu_credits(p, &it, credits.as_deref())
}

/// The attributes of a related resource on the side being priced (its
/// prior state when pricing the before side).
fn template_attrs(
    p: &Pricer<'_>,
    rc: &arbiter_plan::ResourceChange,
    keys: &'static [&'static str],
) -> Attrs {
    let (values, unknown) = match p.side {
        Side::Before => (rc.change.before.as_ref(), None),
        Side::After => (
            rc.change.after.as_ref().or(rc.change.before.as_ref()),
            rc.change.after_unknown.as_ref(),
        ),
    };
    Attrs::extract(values, unknown, keys)
}

fn str_of(m: &Map<String, Value>, k: &str) -> Option<String> {
    m.get(k)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn first_block<'m>(m: &'m Map<String, Value>, k: &str) -> Option<&'m Map<String, Value>> {
    match m.get(k) {
        Some(Value::Array(a)) => a.first().and_then(Value::as_object),
        Some(Value::Object(o)) => Some(o),
        _ => None,
    }
}

pub(crate) const EKS_NODE_GROUP: Model = Model {
    resource_type: "aws_eks_node_group",
    keys: &[
        "scaling_config",
        "instance_types",
        "disk_size",
        "capacity_type",
        "launch_template",
    ],
    usage_keys: &["monthly_cpu_credit_hrs"],
    price: eks_node_group,
};

/// Disk of an EKS managed node when no launch template says otherwise.
const EKS_DEFAULT_DISK_GB: f64 = 20.0;

fn eks_node_group(p: &mut Pricer<'_>) -> Result<(), Stop> {
    if p.attrs
        .str("capacity_type")
        .is_some_and(|c| c.eq_ignore_ascii_case("spot"))
    {
        return Err(spot());
    }
    let sc = p.attrs.block("scaling_config").cloned().unwrap_or_default();
    let (count, count_note) = match sc.get("desired_size").and_then(as_num) {
        Some(n) => (check("scaling_config.desired_size", n, MAX_COUNT)?, None),
        None => match sc.get("min_size").and_then(as_num) {
            Some(n) => (
                check("scaling_config.min_size", n, MAX_COUNT)?,
                Some(format!(
                    "desired_size not known: min_size ({}) assumed",
                    trim_num(n)
                )),
            ),
            None => {
                return Err(Stop::Unpriced(
                    "scaling_config.desired_size is unknown".into(),
                ))
            }
        },
    };
    let types: Vec<String> = p
        .attrs
        .strings("instance_types")
        .into_iter()
        .map(str::to_string)
        .collect();
    if let Some(lt) = p.attrs.block("launch_template").cloned() {
        let id = str_of(&lt, "id");
        let name = str_of(&lt, "name");
        let template = p
            .index
            .referenced(p.rc, "aws_launch_template")
            .into_iter()
            .next()
            .or_else(|| {
                id.as_deref()
                    .and_then(|i| p.index.find_by_attr("aws_launch_template", "id", i))
            })
            .or_else(|| {
                name.as_deref()
                    .and_then(|n| p.index.find_by_attr("aws_launch_template", "name", n))
            });
        if let Some(template) = template {
            let t = template_attrs(p, template, TEMPLATE_KEYS);
            return price_template(
                p,
                &t,
                &template.address,
                types.first().cloned(),
                count,
                count_note,
            );
        }
        if types.is_empty() {
            return Err(Stop::Unpriced(
                "its launch template is not in the plan, so the instance type is unknown".into(),
            ));
        }
    }
    let (it, type_note) = match types.first() {
        Some(t) => (t.clone(), None),
        None if p.attrs.is_unknown("instance_types") => return Err(p.unknown("instance_types")),
        None => (
            "t3.medium".to_string(),
            Some("instance_types not set: t3.medium (the EKS default) assumed".to_string()),
        ),
    };
    let note = match (count_note, type_note) {
        (None, None) => None,
        (a, b) => Some([a, b].into_iter().flatten().collect::<Vec<_>>().join("; ")),
    };
    instance_hours(p, &it, count, note)?;
    let (disk, disk_note) = match p.checked("disk_size", MAX_VOLUME_GB)? {
        Some(d) => (d, None),
        None => (
            EKS_DEFAULT_DISK_GB,
            Some(format!(
                "disk_size not set: {} GB (the EKS default) assumed",
                trim_num(EKS_DEFAULT_DISK_GB)
            )),
        ),
    };
    price_volume(
        p,
        &VolumeSpec {
            label: "Node disk",
            vtype: "gp2",
            size_gb: disk,
            iops: None,
            throughput: None,
            count,
            assumption: Some(disk_note.map_or_else(
                || "node disk type gp2 assumed".to_string(),
                |n| format!("{n}; gp2 assumed"),
            )),
        },
    )?;
    cpu_credits(p, &it, None)
}
