//! The price catalogue: public AWS on-demand list prices, each with its
//! source and as-of date.
//!
//! The embedded catalogue is `data/pricing/*.csv` turned into static sorted
//! tables at build time (see `build.rs`): loading it allocates nothing and a
//! lookup is a binary search. A user catalogue (a CSV in the same format, as
//! `arbiter pricing import` writes) is laid over it: its rows replace the
//! embedded rows with the same key and add new ones.

use crate::error::CostError;
use std::borrow::Cow;
use std::cmp::Ordering;
use std::path::Path;

/// One price: `usd` per `unit` of a component of a resource type in a region.
#[derive(Debug, Clone, PartialEq)]
pub struct Price {
    /// AWS region code (`us-east-1`).
    pub region: Cow<'static, str>,
    /// Terraform resource type the price applies to (`aws_instance`).
    pub resource_type: Cow<'static, str>,
    /// What is billed (`instance_hours`, `storage`, …).
    pub component: Cow<'static, str>,
    /// The variant: instance type, storage type, `class|engine|deployment`, …
    pub sku: Cow<'static, str>,
    /// Billing unit (`hour`, `GB-month`, `1M requests`, …).
    pub unit: Cow<'static, str>,
    /// USD per unit.
    pub usd: f64,
    /// Where the figure comes from (`repo@commit:path` or a URL).
    pub source: Cow<'static, str>,
    /// Date the figure is known to hold (see PROVENANCE.md for bounds).
    pub as_of: Cow<'static, str>,
    /// `resource_type/component/sku` (precomputed: shown with every component).
    pub key: Cow<'static, str>,
    /// `source (as of date)` (precomputed, likewise).
    pub cite: Cow<'static, str>,
}

impl Price {
    fn key(&self) -> (&str, &str, &str, &str) {
        (
            &self.region,
            &self.resource_type,
            &self.component,
            &self.sku,
        )
    }

    /// `resource_type/component/sku`, the key shown with each cost component.
    pub fn key_text(&self) -> String {
        self.key.to_string()
    }

    /// A price with its key and citation filled in.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        region: String,
        resource_type: String,
        component: String,
        sku: String,
        unit: String,
        usd: f64,
        source: String,
        as_of: String,
    ) -> Price {
        let key = format!("{resource_type}/{component}/{sku}");
        let cite = format!("{source} (as of {as_of})");
        Price {
            region: Cow::Owned(region),
            resource_type: Cow::Owned(resource_type),
            component: Cow::Owned(component),
            sku: Cow::Owned(sku),
            unit: Cow::Owned(unit),
            usd,
            source: Cow::Owned(source),
            as_of: Cow::Owned(as_of),
            key: Cow::Owned(key),
            cite: Cow::Owned(cite),
        }
    }
}

/// vCPU, memory and accelerators of an EC2 instance type.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InstanceSpec {
    /// `p4d.24xlarge`.
    pub instance_type: &'static str,
    /// Default vCPUs.
    pub vcpu: u32,
    /// Memory in GiB.
    pub memory_gib: f64,
    /// GPUs or other accelerators (Neuron devices, Inferentia chips).
    pub gpus: u32,
    /// Accelerator model, empty when none.
    pub gpu_model: &'static str,
}

mod data {
    use super::{InstanceSpec, Price};
    include!(concat!(env!("OUT_DIR"), "/catalogue_data.rs"));
}

/// Header of a catalogue CSV (the format of `data/pricing/aws-*.csv`).
pub const CSV_HEADER: [&str; 10] = [
    "service",
    "resource_type",
    "component",
    "sku_key",
    "unit",
    "usd_per_unit",
    "region",
    "source",
    "as_of",
    "notes",
];

/// Largest catalogue file read (a full regional EC2 import is a few MB).
pub const MAX_CATALOGUE_BYTES: u64 = 256 * 1024 * 1024;

/// Prices to look up: the embedded tables, optionally overlaid by a user file.
#[derive(Debug, Clone)]
pub struct Catalogue {
    overlay: Vec<Price>,
    name: String,
}

impl Default for Catalogue {
    fn default() -> Self {
        Catalogue::embedded()
    }
}

impl Catalogue {
    /// The catalogue built into the binary. Costs nothing: the tables are static.
    pub fn embedded() -> Catalogue {
        Catalogue {
            overlay: Vec::new(),
            name: data::VERSION.to_string(),
        }
    }

    /// The embedded catalogue with the rows of a catalogue CSV laid over it.
    pub fn with_overlay_file(path: &Path) -> Result<Catalogue, CostError> {
        let shown = path.display().to_string();
        let meta = std::fs::metadata(path).map_err(|e| CostError::Io {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        if meta.len() > MAX_CATALOGUE_BYTES {
            return Err(CostError::Catalogue {
                path: shown,
                line: 0,
                message: format!(
                    "{} bytes is more than the {} a catalogue may have",
                    meta.len(),
                    MAX_CATALOGUE_BYTES
                ),
            });
        }
        let text = std::fs::read_to_string(path).map_err(|e| CostError::Io {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        Catalogue::with_overlay_csv(&text, &shown)
    }

    /// Like [`Catalogue::with_overlay_file`] from CSV text; `name` is used in
    /// errors and as the catalogue's name.
    pub fn with_overlay_csv(text: &str, name: &str) -> Result<Catalogue, CostError> {
        let rows = parse_catalogue_csv(text, name)?;
        let mut overlay: Vec<Price> = Vec::with_capacity(rows.len());
        for (line, p) in rows {
            if let Some(prev) = overlay.iter().find(|q| q.key() == p.key()) {
                return Err(CostError::Catalogue {
                    path: name.to_string(),
                    line,
                    message: format!(
                        "duplicate price for {} in {} (first {} USD)",
                        p.key_text(),
                        p.region,
                        prev.usd
                    ),
                });
            }
            overlay.push(p);
        }
        overlay.sort_by(|a, b| a.key().cmp(&b.key()));
        Ok(Catalogue {
            name: format!("{} + {name} ({} rows)", data::VERSION, overlay.len()),
            overlay,
        })
    }

    /// Name shown in reports: the embedded version, plus the overlay file.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Number of prices (embedded and overlay; an overlay row replacing an
    /// embedded one counts twice).
    pub fn len(&self) -> usize {
        data::PRICES.len() + self.overlay.len()
    }

    /// Never true: the embedded tables are not empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The price of `component`/`sku` of `resource_type` in `region`; the
    /// overlay wins over the embedded tables. `None` means unpriced: never
    /// a neighbouring region or size.
    pub fn lookup(
        &self,
        region: &str,
        resource_type: &str,
        component: &str,
        sku: &str,
    ) -> Option<&Price> {
        let key = (region, resource_type, component, sku);
        find(&self.overlay, key).or_else(|| find(data::PRICES, key))
    }

    /// Whether the catalogue has any price for `region`.
    pub fn has_region(&self, region: &str) -> bool {
        let has = |rows: &[Price]| {
            let i = rows.partition_point(|p| p.region.as_ref() < region);
            rows.get(i).is_some_and(|p| p.region == region)
        };
        has(&self.overlay) || has(data::PRICES)
    }

    /// Regions with at least one price.
    pub fn regions(&self) -> Vec<String> {
        let mut out: Vec<String> = data::PRICES
            .iter()
            .chain(self.overlay.iter())
            .map(|p| p.region.to_string())
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Every embedded price (the overlay excluded), sorted by key.
    pub fn embedded_prices() -> &'static [Price] {
        data::PRICES
    }

    /// Specifications of an EC2 instance type, from `instance-specs.csv`.
    pub fn instance_spec(instance_type: &str) -> Option<&'static InstanceSpec> {
        data::SPECS
            .binary_search_by(|s| s.instance_type.cmp(instance_type))
            .ok()
            .and_then(|i| data::SPECS.get(i))
    }

    /// `(reason, source)` when `free.csv` lists the type (or the type with a
    /// qualifier such as `[billing_mode=PAY_PER_REQUEST]`, given whole).
    pub fn free_entry(type_key: &str) -> Option<(&'static str, &'static str)> {
        data::FREE
            .binary_search_by(|(k, _, _)| k.cmp(&type_key))
            .ok()
            .and_then(|i| data::FREE.get(i))
            .map(|(_, r, s)| (*r, *s))
    }

    /// Every `free.csv` entry: `(type, reason, source)`.
    pub fn free_entries() -> &'static [(&'static str, &'static str, &'static str)] {
        data::FREE
    }
}

fn find<'a>(rows: &'a [Price], key: (&str, &str, &str, &str)) -> Option<&'a Price> {
    rows.binary_search_by(|p| cmp_key(p.key(), key))
        .ok()
        .and_then(|i| rows.get(i))
}

fn cmp_key(a: (&str, &str, &str, &str), b: (&str, &str, &str, &str)) -> Ordering {
    a.cmp(&b)
}

/// Reads a catalogue CSV: `(line, price)` per row. Errors name the file,
/// line and field.
pub fn parse_catalogue_csv(text: &str, name: &str) -> Result<Vec<(usize, Price)>, CostError> {
    let err = |line: usize, message: String| CostError::Catalogue {
        path: name.to_string(),
        line,
        message,
    };
    let records = crate::csv::parse(text).map_err(|(l, m)| err(l, m))?;
    let mut it = records.into_iter();
    let header = it
        .next()
        .ok_or_else(|| err(1, "empty file (expected a CSV header)".into()))?;
    if header.fields != CSV_HEADER {
        return Err(err(
            header.line,
            format!("header must be {}", CSV_HEADER.join(",")),
        ));
    }
    let mut out = Vec::new();
    for r in it {
        let f = r.fields;
        if f.len() != CSV_HEADER.len() {
            return Err(err(
                r.line,
                format!("{} fields, expected {}", f.len(), CSV_HEADER.len()),
            ));
        }
        for (i, v) in f.iter().enumerate().take(9) {
            if v.trim().is_empty() {
                return Err(err(r.line, format!("{} is empty", CSV_HEADER[i])));
            }
        }
        let usd: f64 = f[5]
            .trim()
            .parse()
            .map_err(|_| err(r.line, format!("usd_per_unit {:?} is not a number", f[5])))?;
        if !usd.is_finite() || usd < 0.0 {
            return Err(err(
                r.line,
                format!("usd_per_unit {usd} must be a finite number ≥ 0"),
            ));
        }
        if !crate::region::is_known(&f[6]) {
            return Err(err(r.line, format!("unknown region {:?}", f[6])));
        }
        let mut f = f.into_iter();
        let mut next = || f.next().unwrap_or_default();
        let _service = next();
        let resource_type = next();
        let component = next();
        let sku = next();
        let unit = next();
        let _usd = next();
        let region = next();
        let source = next();
        let as_of = next();
        out.push((
            r.line,
            Price::new(
                region,
                resource_type,
                component,
                sku,
                unit,
                usd,
                source,
                as_of,
            ),
        ));
    }
    Ok(out)
}

/// Writes prices as a catalogue CSV (the format [`parse_catalogue_csv`] reads).
pub fn write_catalogue_csv(prices: &[(String, Price, String)]) -> String {
    // (service, price, notes)
    let mut out = CSV_HEADER.join(",");
    out.push('\n');
    for (service, p, notes) in prices {
        let fields = [
            service.as_str(),
            &p.resource_type,
            &p.component,
            &p.sku,
            &p.unit,
            &format_usd(p.usd),
            &p.region,
            &p.source,
            &p.as_of,
            notes,
        ];
        let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    out
}

/// A decimal without exponent or trailing zeros (`0.0416`, `1`).
pub fn format_usd(v: f64) -> String {
    let s = format!("{v:.12}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() {
        "0".into()
    } else {
        s.to_string()
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_tables_are_sorted_and_unique() {
        let rows = Catalogue::embedded_prices();
        assert!(rows.len() > 500, "{}", rows.len());
        for w in rows.windows(2) {
            assert!(
                w[0].key() < w[1].key(),
                "{:?} !< {:?}",
                w[0].key(),
                w[1].key()
            );
        }
    }

    #[test]
    fn lookup_is_exact_and_region_aware() {
        let c = Catalogue::embedded();
        let p = c.lookup("us-east-1", "aws_instance", "instance_hours", "t3.medium");
        assert_eq!(p.map(|p| p.usd), Some(0.0416));
        assert!(c
            .lookup("us-east-1", "aws_instance", "instance_hours", "t3.mediu")
            .is_none());
        // Only GPU types have us-west-2 rows: a t3 there is unpriced, not the us-east-1 price.
        assert!(c
            .lookup("us-west-2", "aws_instance", "instance_hours", "t3.medium")
            .is_none());
        assert!(c.has_region("us-west-2") && !c.has_region("ap-south-1"));
    }

    #[test]
    fn overlay_rows_win_and_bad_rows_name_their_line() -> Result<(), CostError> {
        let csv = format!(
            "{}\nec2,aws_instance,instance_hours,t3.medium,hour,0.05,us-east-1,test,2026-01-01,\n",
            CSV_HEADER.join(",")
        );
        let c = Catalogue::with_overlay_csv(&csv, "mine.csv")?;
        let p = c.lookup("us-east-1", "aws_instance", "instance_hours", "t3.medium");
        assert_eq!(p.map(|p| p.usd), Some(0.05));
        assert!(c.name().contains("mine.csv"));
        let bad = format!(
            "{}\nec2,aws_instance,instance_hours,t3.medium,hour,-1,us-east-1,test,2026-01-01,\n",
            CSV_HEADER.join(",")
        );
        let e = Catalogue::with_overlay_csv(&bad, "bad.csv")
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some("catalogue bad.csv: line 2: usd_per_unit -1 must be a finite number ≥ 0")
        );
        Ok(())
    }

    #[test]
    fn specs_and_free_types() {
        let s = Catalogue::instance_spec("p4d.24xlarge");
        assert_eq!(s.map(|s| (s.gpus, s.gpu_model)), Some((8, "NVIDIA A100")));
        assert!(Catalogue::free_entry("aws_iam_role").is_some());
        assert!(Catalogue::free_entry("aws_instance").is_none());
    }

    #[test]
    fn usd_formatting() {
        assert_eq!(format_usd(0.0416), "0.0416");
        assert_eq!(format_usd(1.0), "1");
        assert_eq!(format_usd(0.0000000309), "0.0000000309");
    }
}
