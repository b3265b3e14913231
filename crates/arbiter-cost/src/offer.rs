//! Importing AWS Price List bulk offer files (the public JSON "offer"
//! format: `products` plus `terms.OnDemand`) into catalogue rows.
//!
//! Offer files are large (a regional EC2 file is hundreds of megabytes), so
//! they are read as a stream: each product is kept only when it maps to a
//! catalogue row, with only the attributes the mapping needs.
//!
//! Mapped today: EC2 Linux shared-tenancy on-demand instances, EBS volume
//! storage and provisioned IOPS, NAT gateway hours and data, RDS instances
//! (MySQL, PostgreSQL, MariaDB, Aurora) and storage, ElastiCache nodes
//! (Redis, Memcached), S3 storage per class and Standard requests, Lambda
//! requests and duration tiers (x86 and Arm), EFS storage per class and
//! Infrequent Access reads and writes, DynamoDB capacity, request units,
//! storage, backups, restores and stream reads. Every other product is
//! counted as skipped, by family.
//!
//! A price is never rescaled from a unit it was not expected in: a product
//! whose unit differs from the mapping's is skipped with both units named.
//! Tiered prices (Lambda duration) become one row per tier; a leading $0
//! tier (a free tier) is left out, since the catalogue's rates are the
//! billed ones.

use crate::catalogue::{Price, CSV_HEADER};
use crate::error::CostError;
use crate::region;
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::Read;
use std::path::Path;

/// What an import produced.
#[derive(Debug, Clone, Default)]
pub struct ImportReport {
    /// `offerCode` of the file (`AmazonEC2`).
    pub offer_code: String,
    /// `version` of the file.
    pub version: String,
    /// `publicationDate` of the file.
    pub publication_date: String,
    /// Catalogue rows: `(service, price, notes)`, sorted by key.
    pub prices: Vec<(String, Price, String)>,
    /// Products read.
    pub products: usize,
    /// Products not mapped, by product family (or reason).
    pub skipped: BTreeMap<String, usize>,
    /// Mapped products without an on-demand price.
    pub without_price: usize,
    /// Rows whose key another product already gave, with a different price
    /// (the first is kept).
    pub conflicts: Vec<String>,
}

impl ImportReport {
    /// The rows as a catalogue CSV.
    pub fn to_csv(&self) -> String {
        crate::catalogue::write_catalogue_csv(&self.prices)
    }

    /// One line per mapped kind and skip reason, for the command's summary.
    pub fn summary(&self) -> String {
        let mut by: BTreeMap<String, usize> = BTreeMap::new();
        for (_, p, _) in &self.prices {
            *by.entry(format!("{}/{}", p.resource_type, p.component))
                .or_default() += 1;
        }
        let mut s = format!(
            "offer {} version {} ({}): {} products read, {} prices imported",
            self.offer_code,
            self.version,
            self.publication_date,
            self.products,
            self.prices.len()
        );
        for (k, n) in by {
            s.push_str(&format!("\n  {n:>6}  {k}"));
        }
        if self.without_price > 0 {
            s.push_str(&format!(
                "\n  {:>6}  mapped products without an on-demand price (skipped)",
                self.without_price
            ));
        }
        for (k, n) in &self.skipped {
            s.push_str(&format!("\n  {n:>6}  skipped: {k}"));
        }
        for c in &self.conflicts {
            s.push_str(&format!("\n  conflict: {c}"));
        }
        s
    }
}

/// Reads an offer file.
pub fn import_offer_file(path: &Path) -> Result<ImportReport, CostError> {
    let shown = path.display().to_string();
    let f = std::fs::File::open(path).map_err(|e| CostError::Io {
        path: shown.clone(),
        message: e.to_string(),
    })?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| shown.clone());
    import_offer(std::io::BufReader::with_capacity(1 << 20, f), &shown, &name)
}

/// Reads an offer document from `reader`; `path` is used in errors and
/// `name` in each row's source.
pub fn import_offer<R: Read>(reader: R, path: &str, name: &str) -> Result<ImportReport, CostError> {
    let mut de = serde_json::Deserializer::from_reader(reader);
    let raw = OfferSeed
        .deserialize(&mut de)
        .map_err(|e| CostError::Offer {
            path: path.to_string(),
            message: e.to_string(),
        })?;
    de.end().map_err(|e| CostError::Offer {
        path: path.to_string(),
        message: e.to_string(),
    })?;
    if raw.offer_code.is_empty() && raw.products.is_empty() && raw.product_count == 0 {
        return Err(CostError::Offer {
            path: path.to_string(),
            message: "no offerCode and no products: not an AWS Price List offer file".into(),
        });
    }
    let as_of =
        as_of_date(&raw.publication_date, &raw.version).map_err(|message| CostError::Offer {
            path: path.to_string(),
            message,
        })?;
    let source = format!(
        "AWS Price List offer {} version {} ({name})",
        raw.offer_code, raw.version
    );
    let mut report = ImportReport {
        offer_code: raw.offer_code.clone(),
        version: raw.version.clone(),
        publication_date: raw.publication_date.clone(),
        products: raw.product_count,
        skipped: raw.skipped,
        ..ImportReport::default()
    };
    let mut rows: BTreeMap<RowKey, (String, Price, String)> = BTreeMap::new();
    let mut skus: Vec<(&String, &Mapped)> = raw.products.iter().collect();
    skus.sort();
    for (sku, m) in skus {
        let Some(dims) = raw.prices.get(sku) else {
            report.without_price += 1;
            continue;
        };
        if let Some((unit, _, _)) = dims.iter().find(|d| d.0 != m.unit) {
            *report
                .skipped
                .entry(format!("unit {unit:?} where {:?} was expected", m.unit))
                .or_default() += 1;
            continue;
        }
        // A leading $0 tier is a free tier (DynamoDB's first 25 GB, …):
        // the catalogue holds the billed rates.
        let paid: Vec<&Dimension> = dims.iter().skip_while(|d| d.2 == 0.0).collect();
        let free_note = if paid.len() < dims.len() {
            format!(
                "; a $0 first tier up to {} {} (free tier) left out",
                trim_begin(paid.first().map_or(0.0, |d| d.1)),
                m.unit
            )
        } else {
            String::new()
        };
        let picked: Vec<(&'static str, f64, String)> = if m.tiers.is_empty() {
            match paid.first() {
                Some(d) => vec![(m.component, d.2, free_note.clone())],
                None => {
                    *report
                        .skipped
                        .entry("only $0 prices (a free tier or no charge)".into())
                        .or_default() += 1;
                    continue;
                }
            }
        } else if paid.len() == m.tiers.len() {
            m.tiers
                .iter()
                .zip(&paid)
                .map(|(c, d)| {
                    (
                        *c,
                        d.2,
                        format!("; tier from {} {}{free_note}", trim_begin(d.1), m.unit),
                    )
                })
                .collect()
        } else {
            *report
                .skipped
                .entry(format!(
                    "{} priced tiers where {} were expected ({})",
                    paid.len(),
                    m.tiers.len(),
                    m.tiers.join(", ")
                ))
                .or_default() += 1;
            continue;
        };
        for (component, offer_usd, extra) in picked {
            let usd = offer_usd * f64::from(m.scale);
            let key = (
                m.region.clone(),
                m.resource_type.to_string(),
                component.to_string(),
                m.sku.clone(),
            );
            let price = Price::new(
                m.region.clone(),
                m.resource_type.to_string(),
                component.to_string(),
                m.sku.clone(),
                m.catalogue_unit.to_string(),
                usd,
                source.clone(),
                as_of.clone(),
            );
            let scaled = if m.scale == 1 {
                String::new()
            } else {
                format!("; offer price {offer_usd} per {} × {}", m.unit, m.scale)
            };
            let notes = format!("offer sku {sku}; {}{scaled}{extra}", m.note);
            match rows.get(&key) {
                Some((_, prev, _)) if (prev.usd - usd).abs() > 1e-12 => {
                    report.conflicts.push(format!(
                        "{} {} in {}: {} (kept) and {} (sku {sku})",
                        price.key_text(),
                        m.unit,
                        m.region,
                        prev.usd,
                        usd
                    ))
                }
                Some(_) => {}
                None => {
                    rows.insert(key, (m.service.to_string(), price, notes));
                }
            }
        }
    }
    report.prices = rows.into_values().collect();
    Ok(report)
}

/// `(region, resource type, component, sku)`.
type RowKey = (String, String, String, String);

/// A product that maps to a catalogue row.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Mapped {
    service: &'static str,
    resource_type: &'static str,
    component: &'static str,
    sku: String,
    region: String,
    /// Price List unit expected (`Hrs`, `GB-Mo`, `IOPS-Mo`, `GB`).
    unit: &'static str,
    /// The catalogue's unit for it.
    catalogue_unit: &'static str,
    /// Catalogue price = offer price × `scale` (per request → per 1k: 1000).
    scale: u32,
    /// For tiered prices: the component of each tier, lowest first (the
    /// mapping's `component` is then unused); empty for a flat price.
    tiers: &'static [&'static str],
    note: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawAttributes {
    location: Option<String>,
    region_code: Option<String>,
    instance_type: Option<String>,
    tenancy: Option<String>,
    operating_system: Option<String>,
    pre_installed_sw: Option<String>,
    #[serde(rename = "capacitystatus")]
    capacity_status: Option<String>,
    license_model: Option<String>,
    #[serde(rename = "usagetype")]
    usage_type: Option<String>,
    #[serde(rename = "marketoption")]
    market_option: Option<String>,
    volume_api_name: Option<String>,
    volume_type: Option<String>,
    database_engine: Option<String>,
    deployment_option: Option<String>,
    cache_engine: Option<String>,
    group: Option<String>,
    #[serde(rename = "servicecode")]
    service_code: Option<String>,
    access_type: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawProduct {
    #[serde(default)]
    product_family: Option<String>,
    #[serde(default)]
    attributes: RawAttributes,
}

/// The as-of date (`YYYY-MM-DD`) of an offer file: the date that starts its
/// `publicationDate` (`2026-11-15T00:00:00Z`), else, when that is absent, the
/// date a `version` starts with (`20261115000000`). An error names the
/// field that is not a date. Never cuts text inside a character: any string
/// at all gives a date or an error.
pub fn as_of_date(publication_date: &str, version: &str) -> Result<String, String> {
    if !publication_date.is_empty() {
        return publication_date
            .get(..10)
            .filter(|d| is_date(d))
            .map(str::to_string)
            .ok_or_else(|| {
                format!(
                    "publicationDate {:?} does not start with a date like 2026-11-15",
                    arbiter_plan::error::clip(publication_date, 40)
                )
            });
    }
    let digits = version
        .get(..8)
        .filter(|v| v.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| {
            "no publicationDate (or dated version): cannot give the prices an as-of date"
                .to_string()
        })?;
    let date = format!(
        "{}-{}-{}",
        digits.get(..4).unwrap_or_default(),
        digits.get(4..6).unwrap_or_default(),
        digits.get(6..).unwrap_or_default()
    );
    if is_date(&date) {
        Ok(date)
    } else {
        Err(format!(
            "version {:?} does not start with a date like 20261115",
            arbiter_plan::error::clip(version, 40)
        ))
    }
}

/// `YYYY-MM-DD` with a month 01–12 and a day 01–31.
fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| {
        b.get(r)
            .filter(|d| d.iter().all(u8::is_ascii_digit))
            .map(|d| d.iter().fold(0u32, |n, x| n * 10 + u32::from(x - b'0')))
    };
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && digits(0..4).is_some()
        && digits(5..7).is_some_and(|m| (1..=12).contains(&m))
        && digits(8..10).is_some_and(|d| (1..=31).contains(&d))
}

fn map_product(p: &RawProduct, offer_code: &str) -> Result<Mapped, String> {
    let a = &p.attributes;
    let family = p.product_family.as_deref().unwrap_or("(no productFamily)");
    let region = a
        .region_code
        .clone()
        .or_else(|| {
            a.location
                .as_deref()
                .and_then(region::from_location)
                .map(str::to_string)
        })
        .ok_or_else(|| {
            format!(
                "{family}: location {:?} is not a known region",
                a.location.as_deref().unwrap_or("")
            )
        })?;
    if !region::is_known(&region) {
        return Err(format!("{family}: region {region:?} is not a known region"));
    }
    let usage = a.usage_type.clone().unwrap_or_default();
    let m = |service, resource_type, component, sku: String, unit, catalogue_unit, note: String| {
        Mapped {
            service,
            resource_type,
            component,
            sku,
            region: region.clone(),
            unit,
            catalogue_unit,
            scale: 1,
            tiers: &[],
            note,
        }
    };
    // Services whose product families reuse EC2's and RDS's names
    // ("Storage", "Database Storage") are told apart by their service code.
    let service = a.service_code.as_deref().unwrap_or(offer_code);
    match service {
        "AmazonS3" => return map_s3(family, &usage, &m),
        "AWSLambda" => return map_lambda(family, &usage, a, &m),
        "AmazonEFS" => return map_efs(family, &usage, a, &m),
        "AmazonDynamoDB" => return map_dynamodb(family, &usage, a, &m),
        _ => {}
    }
    let row = FAMILIES
        .iter()
        .find(|f| f.family == family && (f.when)(a, &usage))
        .ok_or_else(|| family.to_string())?;
    (row.map)(a, &usage, &m)
}

/// One kind of Price List product: its `productFamily`, which of its rows
/// (attributes and usage type), and how such a row becomes a catalogue row.
/// Services that reuse EC2's and RDS's family names (S3, Lambda, EFS,
/// DynamoDB) are told apart by service code before this table is read.
struct FamilyMap {
    family: &'static str,
    when: fn(&RawAttributes, &str) -> bool,
    map: fn(&RawAttributes, &str, Build<'_>) -> Result<Mapped, String>,
}

/// Every product family `arbiter pricing import` maps, in one table.
const FAMILIES: &[FamilyMap] = &[
    FamilyMap {
        family: "Compute Instance",
        when: |_, _| true,
        map: map_ec2_instance,
    },
    FamilyMap {
        family: "Storage",
        when: |_, _| true,
        map: map_ebs_storage,
    },
    FamilyMap {
        family: "System Operation",
        when: |a, _| a.group.as_deref() == Some("EBS IOPS"),
        map: map_ebs_iops,
    },
    FamilyMap {
        family: "NAT Gateway",
        when: |_, u| u.ends_with("NatGateway-Hours"),
        map: |_, u, m| {
            Ok(m(
                "vpc",
                "aws_nat_gateway",
                "hours",
                "nat-gateway".into(),
                "Hrs",
                "hour",
                format!("usagetype {u}"),
            ))
        },
    },
    FamilyMap {
        family: "NAT Gateway",
        when: |_, u| u.ends_with("NatGateway-Bytes"),
        map: |_, u, m| {
            Ok(m(
                "vpc",
                "aws_nat_gateway",
                "data_processed",
                "nat-gateway".into(),
                "GB",
                "GB",
                format!("usagetype {u}"),
            ))
        },
    },
    FamilyMap {
        family: "Database Instance",
        when: |_, _| true,
        map: map_rds_instance,
    },
    FamilyMap {
        family: "Database Storage",
        when: |_, _| true,
        map: map_rds_storage,
    },
    FamilyMap {
        family: "Cache Instance",
        when: |_, _| true,
        map: map_cache_instance,
    },
];

/// Price List attribute values and the catalogue's spelling of them.
const RDS_ENGINES: &[(&str, &str)] = &[
    ("MySQL", "mysql"),
    ("PostgreSQL", "postgres"),
    ("MariaDB", "mariadb"),
    ("Aurora MySQL", "aurora-mysql"),
    ("Aurora PostgreSQL", "aurora-postgresql"),
];
const RDS_DEPLOYMENTS: &[(&str, &str)] = &[("Single-AZ", "single-az"), ("Multi-AZ", "multi-az")];
const RDS_VOLUME_TYPES: &[(&str, &str)] = &[
    ("General Purpose-GP3", "gp3"),
    ("General Purpose", "gp2"),
    ("Provisioned IOPS", "io1"),
    ("Provisioned IOPS-IO2", "io2"),
    ("Magnetic", "magnetic"),
];
/// Engines whose storage rows the catalogue takes (`Any`: shared rows).
const RDS_STORAGE_ENGINES: &[&str] = &["Any", "MySQL", "PostgreSQL", "MariaDB"];
const CACHE_ENGINES: &[&str] = &["Redis", "Memcached"];

/// The catalogue's spelling of `value` in `table`, or why the row is skipped.
fn spelled(
    table: &[(&str, &'static str)],
    value: Option<&str>,
    what: &str,
) -> Result<&'static str, String> {
    table
        .iter()
        .find(|(k, _)| Some(*k) == value)
        .map(|(_, v)| *v)
        .ok_or_else(|| format!("{what} {} (not mapped)", value.unwrap_or("?")))
}

fn map_ec2_instance(a: &RawAttributes, usage: &str, m: Build<'_>) -> Result<Mapped, String> {
    let is = |v: &Option<String>, want: &str| v.as_deref() == Some(want);
    let absent_or = |v: &Option<String>, want: &str| v.is_none() || is(v, want);
    let it = a
        .instance_type
        .clone()
        .ok_or("Compute Instance: no instanceType")?;
    if !(is(&a.operating_system, "Linux")
        && is(&a.tenancy, "Shared")
        && absent_or(&a.pre_installed_sw, "NA")
        && absent_or(&a.capacity_status, "Used")
        && absent_or(&a.license_model, "No License required")
        && absent_or(&a.market_option, "OnDemand"))
    {
        return Err(
            "Compute Instance: not Linux/shared/on-demand/no pre-installed software".into(),
        );
    }
    Ok(m(
        "ec2",
        "aws_instance",
        "instance_hours",
        it,
        "Hrs",
        "hour",
        format!("usagetype {usage}"),
    ))
}

fn map_ebs_storage(a: &RawAttributes, usage: &str, m: Build<'_>) -> Result<Mapped, String> {
    let v = a
        .volume_api_name
        .clone()
        .ok_or("Storage: no volumeApiName")?;
    Ok(m(
        "ebs",
        "aws_ebs_volume",
        "storage",
        v,
        "GB-Mo",
        "GB-month",
        format!("usagetype {usage}"),
    ))
}

fn map_ebs_iops(a: &RawAttributes, usage: &str, m: Build<'_>) -> Result<Mapped, String> {
    let v = a
        .volume_api_name
        .clone()
        .ok_or("System Operation: no volumeApiName")?;
    Ok(m(
        "ebs",
        "aws_ebs_volume",
        "provisioned_iops",
        v,
        "IOPS-Mo",
        "IOPS-month",
        format!("usagetype {usage}"),
    ))
}

fn map_rds_instance(a: &RawAttributes, usage: &str, m: Build<'_>) -> Result<Mapped, String> {
    let it = a
        .instance_type
        .clone()
        .ok_or("Database Instance: no instanceType")?;
    if usage.contains("IOOptimized") {
        return Err("Database Instance: Aurora I/O-Optimized instance (not mapped)".into());
    }
    let engine = spelled(
        RDS_ENGINES,
        a.database_engine.as_deref(),
        "Database Instance: engine",
    )?;
    let deployment = spelled(
        RDS_DEPLOYMENTS,
        a.deployment_option.as_deref(),
        "Database Instance: deployment",
    )?;
    let note = format!("usagetype {usage}");
    if engine.starts_with("aurora") {
        if deployment != "single-az" {
            return Err("Database Instance: Aurora Multi-AZ row (not mapped)".into());
        }
        Ok(m(
            "rds",
            "aws_rds_cluster_instance",
            "instance_hours",
            format!("{it}|{engine}"),
            "Hrs",
            "hour",
            note,
        ))
    } else {
        Ok(m(
            "rds",
            "aws_db_instance",
            "instance_hours",
            format!("{it}|{engine}|{deployment}"),
            "Hrs",
            "hour",
            note,
        ))
    }
}

fn map_rds_storage(a: &RawAttributes, usage: &str, m: Build<'_>) -> Result<Mapped, String> {
    let t = spelled(
        RDS_VOLUME_TYPES,
        a.volume_type.as_deref(),
        "Database Storage: volume type",
    )?;
    if let Some(engine) = a.database_engine.as_deref() {
        if !RDS_STORAGE_ENGINES.contains(&engine) {
            return Err(format!("Database Storage: engine {engine} (not mapped)"));
        }
    }
    let deployment = spelled(
        RDS_DEPLOYMENTS,
        a.deployment_option.as_deref(),
        "Database Storage: deployment",
    )?;
    Ok(m(
        "rds",
        "aws_db_instance",
        "storage",
        format!("{t}|{deployment}"),
        "GB-Mo",
        "GB-month",
        format!("usagetype {usage}"),
    ))
}

fn map_cache_instance(a: &RawAttributes, usage: &str, m: Build<'_>) -> Result<Mapped, String> {
    let it = a
        .instance_type
        .clone()
        .ok_or("Cache Instance: no instanceType")?;
    match a.cache_engine.as_deref() {
        Some(e) if CACHE_ENGINES.contains(&e) => {}
        other => {
            return Err(format!(
                "Cache Instance: engine {} (not mapped)",
                other.unwrap_or("?")
            ))
        }
    }
    Ok(m(
        "elasticache",
        "aws_elasticache_cluster",
        "node_hours",
        it,
        "Hrs",
        "hour",
        format!("usagetype {usage}"),
    ))
}

/// `51200`, `6000000000`: a tier boundary as the offer gives it.
fn trim_begin(v: f64) -> String {
    crate::model::trim_num(v)
}

/// Whether `usage` is the usage type `name`, with or without a region
/// prefix (`TimedStorage-ByteHrs`, `USW2-TimedStorage-ByteHrs`).
fn usage_is(usage: &str, name: &str) -> bool {
    usage == name
        || usage
            .strip_suffix(name)
            .is_some_and(|head| head.ends_with('-'))
}

/// The signature of the row builder `map_product` hands to each service.
type Build<'f> = &'f dyn Fn(
    &'static str,
    &'static str,
    &'static str,
    String,
    &'static str,
    &'static str,
    String,
) -> Mapped;

fn map_s3(family: &str, usage: &str, m: Build<'_>) -> Result<Mapped, String> {
    let note = format!("usagetype {usage}");
    const CLASSES: &[(&str, &str)] = &[
        ("TimedStorage-ByteHrs", "standard"),
        ("TimedStorage-SIA-ByteHrs", "standard-ia"),
        ("TimedStorage-ZIA-ByteHrs", "onezone-ia"),
        (
            "TimedStorage-INT-FA-ByteHrs",
            "intelligent-tiering-frequent",
        ),
        (
            "TimedStorage-INT-IA-ByteHrs",
            "intelligent-tiering-infrequent",
        ),
        ("TimedStorage-GlacierByteHrs", "glacier-flexible-retrieval"),
        ("TimedStorage-GDA-ByteHrs", "glacier-deep-archive"),
    ];
    const REQUESTS: &[(&str, &str, &str)] = &[
        ("Requests-Tier1", "requests_put_copy_post_list", "standard"),
        ("Requests-Tier2", "requests_get_select_other", "standard"),
        (
            "Requests-SIA-Tier1",
            "requests_put_copy_post_list",
            "standard-ia",
        ),
    ];
    if family == "Storage" {
        if let Some((_, class)) = CLASSES.iter().find(|(u, _)| usage_is(usage, u)) {
            // The catalogue holds the first tier (Standard: the first 50 TB).
            return Ok(m(
                "s3",
                "aws_s3_bucket",
                "storage",
                (*class).into(),
                "GB-Mo",
                "GB-month",
                note,
            ));
        }
        return Err(format!("S3 Storage: usagetype {usage} (not mapped)"));
    }
    if family == "API Request" {
        if let Some((_, component, class)) = REQUESTS.iter().find(|(u, _, _)| usage_is(usage, u)) {
            return Ok(Mapped {
                scale: 1000,
                ..m(
                    "s3",
                    "aws_s3_bucket",
                    component,
                    (*class).into(),
                    "Requests",
                    "1k requests",
                    note,
                )
            });
        }
        return Err(format!("S3 API Request: usagetype {usage} (not mapped)"));
    }
    Err(format!("S3 {family}"))
}

fn map_lambda(
    family: &str,
    usage: &str,
    a: &RawAttributes,
    m: Build<'_>,
) -> Result<Mapped, String> {
    let note = format!("usagetype {usage}");
    if family != "Serverless" {
        return Err(format!("Lambda {family}"));
    }
    let group = a.group.as_deref().unwrap_or("");
    // Requests cost the same on both architectures; the catalogue has one row.
    if group.starts_with("AWS-Lambda-Requests")
        && (usage_is(usage, "Request") || usage_is(usage, "Request-ARM"))
    {
        return Ok(Mapped {
            scale: 1_000_000,
            ..m(
                "lambda",
                "aws_lambda_function",
                "requests",
                "x86_64+arm64".into(),
                "Requests",
                "1M requests",
                note,
            )
        });
    }
    if group.starts_with("AWS-Lambda-Duration") {
        if usage_is(usage, "Lambda-GB-Second") {
            return Ok(Mapped {
                tiers: &[
                    "duration_first_6b_gb_s",
                    "duration_next_9b_gb_s",
                    "duration_over_15b_gb_s",
                ],
                ..m(
                    "lambda",
                    "aws_lambda_function",
                    "duration",
                    "x86_64".into(),
                    "Lambda-GB-Second",
                    "GB-second",
                    note,
                )
            });
        }
        if usage_is(usage, "Lambda-GB-Second-ARM") {
            return Ok(Mapped {
                tiers: &[
                    "duration_first_7_5b_gb_s",
                    "duration_next_11_25b_gb_s",
                    "duration_over_18_75b_gb_s",
                ],
                ..m(
                    "lambda",
                    "aws_lambda_function",
                    "duration",
                    "arm64".into(),
                    "Lambda-GB-Second",
                    "GB-second",
                    note,
                )
            });
        }
    }
    Err(format!(
        "Lambda Serverless: group {group} usagetype {usage} (not mapped)"
    ))
}

fn map_efs(family: &str, usage: &str, a: &RawAttributes, m: Build<'_>) -> Result<Mapped, String> {
    let note = format!("usagetype {usage}");
    if family != "Storage" {
        return Err(format!("EFS {family}"));
    }
    const CLASSES: &[(&str, &str)] = &[
        ("TimedStorage-ByteHrs", "standard"),
        ("TimedStorage-Z-ByteHrs", "one-zone"),
        ("IATimedStorage-ByteHrs", "standard-ia"),
        ("IATimedStorage-Z-ByteHrs", "one-zone-ia"),
    ];
    if let Some((_, class)) = CLASSES.iter().find(|(u, _)| usage_is(usage, u)) {
        return Ok(m(
            "efs",
            "aws_efs_file_system",
            "storage",
            (*class).into(),
            "GB-Mo",
            "GB-month",
            note,
        ));
    }
    // Infrequent Access reads and writes are billed per GB transferred.
    if usage.contains("IADataAccess") || usage.contains("IA-DataAccess") {
        let component = match a.access_type.as_deref() {
            Some("Read") => "ia_read_access",
            Some("Write") => "ia_write_access",
            other => {
                return Err(format!(
                    "EFS Storage: accessType {} (not mapped)",
                    other.unwrap_or("?")
                ))
            }
        };
        return Ok(m(
            "efs",
            "aws_efs_file_system",
            component,
            "standard".into(),
            "GB",
            "GB",
            note,
        ));
    }
    Err(format!("EFS Storage: usagetype {usage} (not mapped)"))
}

fn map_dynamodb(
    family: &str,
    usage: &str,
    a: &RawAttributes,
    m: Build<'_>,
) -> Result<Mapped, String> {
    let note = format!("usagetype {usage}");
    let group = a.group.as_deref().unwrap_or("");
    // Standard table class only: Standard-IA usage types carry an `IA-` part.
    if usage.contains("IA-") {
        return Err(format!(
            "DynamoDB {family}: Standard-IA table class (not mapped)"
        ));
    }
    let t = "aws_dynamodb_table";
    match (family, group) {
        ("Provisioned IOPS", "DDB-ReadUnits") => Ok(m(
            "dynamodb",
            t,
            "provisioned_rcu_hours",
            "standard".into(),
            "ReadCapacityUnit-Hrs",
            "RCU-hour",
            note,
        )),
        ("Provisioned IOPS", "DDB-WriteUnits") => Ok(m(
            "dynamodb",
            t,
            "provisioned_wcu_hours",
            "standard".into(),
            "WriteCapacityUnit-Hrs",
            "WCU-hour",
            note,
        )),
        ("Amazon DynamoDB PayPerRequest Throughput", "DDB-ReadUnits") => Ok(Mapped {
            scale: 1_000_000,
            ..m(
                "dynamodb",
                t,
                "on_demand_read_request_units",
                "standard".into(),
                "ReadRequestUnits",
                "1M RRU",
                note,
            )
        }),
        ("Amazon DynamoDB PayPerRequest Throughput", "DDB-WriteUnits") => Ok(Mapped {
            scale: 1_000_000,
            ..m(
                "dynamodb",
                t,
                "on_demand_write_request_units",
                "standard".into(),
                "WriteRequestUnits",
                "1M WRU",
                note,
            )
        }),
        ("Database Storage", _) if usage_is(usage, "TimedStorage-ByteHrs") => Ok(m(
            "dynamodb",
            t,
            "storage",
            "standard".into(),
            "GB-Mo",
            "GB-month",
            note,
        )),
        ("Database Storage", _) if usage_is(usage, "TimedPITRStorage-ByteHrs") => Ok(m(
            "dynamodb",
            t,
            "pitr_backup_storage",
            "standard".into(),
            "GB-Mo",
            "GB-month",
            note,
        )),
        ("Amazon DynamoDB On-Demand Backup Storage", _) => Ok(m(
            "dynamodb",
            t,
            "on_demand_backup_storage",
            "standard".into(),
            "GB-Mo",
            "GB-month",
            note,
        )),
        ("Amazon DynamoDB Restore Data Size", _) => Ok(m(
            "dynamodb",
            t,
            "restore",
            "standard".into(),
            "GB",
            "GB",
            note,
        )),
        ("API Request", g) if g.contains("DDB-StreamsReadRequests") => Ok(m(
            "dynamodb",
            t,
            "streams_read_request_units",
            "standard".into(),
            "Requests",
            "sRRU",
            note,
        )),
        _ => Err(format!(
            "DynamoDB {family}: group {group} usagetype {usage} (not mapped)"
        )),
    }
}

#[derive(Default)]
struct RawOffer {
    offer_code: String,
    version: String,
    publication_date: String,
    products: HashMap<String, Mapped>,
    product_count: usize,
    skipped: BTreeMap<String, usize>,
    /// sku → the price dimensions `(unit, beginRange, USD)` of its first
    /// on-demand term, lowest tier first.
    prices: HashMap<String, Vec<Dimension>>,
}

struct OfferSeed;

impl<'de> DeserializeSeed<'de> for OfferSeed {
    type Value = RawOffer;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<RawOffer, D::Error> {
        d.deserialize_map(OfferVisitor)
    }
}

struct OfferVisitor;

impl<'de> Visitor<'de> for OfferVisitor {
    type Value = RawOffer;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an AWS Price List offer object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawOffer, A::Error> {
        let mut out = RawOffer::default();
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "offerCode" => out.offer_code = map.next_value()?,
                "version" => out.version = map.next_value()?,
                "publicationDate" => out.publication_date = map.next_value()?,
                "products" => map.next_value_seed(ProductsSeed(&mut out))?,
                "terms" => map.next_value_seed(TermsSeed(&mut out.prices))?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(out)
    }
}

struct ProductsSeed<'o>(&'o mut RawOffer);

impl<'de> DeserializeSeed<'de> for ProductsSeed<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ProductsSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a map of products by SKU")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(sku) = map.next_key::<String>()? {
            let p: RawProduct = map.next_value()?;
            self.0.product_count += 1;
            match map_product(&p, &self.0.offer_code) {
                Ok(m) => {
                    self.0.products.insert(sku, m);
                }
                Err(reason) => *self.0.skipped.entry(reason).or_default() += 1,
            }
        }
        Ok(())
    }
}

struct TermsSeed<'o>(&'o mut HashMap<String, Vec<Dimension>>);

impl<'de> DeserializeSeed<'de> for TermsSeed<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for TermsSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a map of term types")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(kind) = map.next_key::<String>()? {
            if kind == "OnDemand" {
                let terms: HashMap<String, HashMap<String, RawTerm>> = map.next_value()?;
                for (sku, offers) in terms {
                    let mut offers: Vec<(String, RawTerm)> = offers.into_iter().collect();
                    offers.sort_by(|a, b| a.0.cmp(&b.0));
                    if let Some(dims) = offers.into_iter().find_map(|(_, t)| t.dimensions()) {
                        self.0.insert(sku, dims);
                    }
                }
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTerm {
    #[serde(default)]
    price_dimensions: HashMap<String, RawDimension>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawDimension {
    #[serde(default)]
    unit: String,
    #[serde(default)]
    begin_range: Option<String>,
    #[serde(default)]
    price_per_unit: HashMap<String, String>,
}

/// One price dimension: `(unit, beginRange, USD per unit)`.
type Dimension = (String, f64, f64);

impl RawTerm {
    /// Every dimension with a valid USD price, lowest `beginRange` first
    /// (`None` when there is none).
    fn dimensions(&self) -> Option<Vec<Dimension>> {
        let mut dims: Vec<Dimension> = self
            .price_dimensions
            .values()
            .filter_map(|d| {
                let usd: f64 = d.price_per_unit.get("USD")?.trim().parse().ok()?;
                let begin: f64 = match d.begin_range.as_deref() {
                    None => 0.0,
                    Some(b) => b.trim().parse().ok()?,
                };
                (usd.is_finite() && usd >= 0.0 && begin.is_finite() && begin >= 0.0)
                    .then(|| (d.unit.clone(), begin, usd))
            })
            .collect();
        dims.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
        (!dims.is_empty()).then_some(dims)
    }
}

/// The catalogue CSV header, for callers writing an empty catalogue.
pub fn csv_header() -> String {
    CSV_HEADER.join(",")
}
