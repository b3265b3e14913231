#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `arbiter pricing import` beyond EC2: small AWS Price List offer files
//! (the public `products` + `terms.OnDemand` format) for S3, Lambda, EFS and
//! DynamoDB, written here, imported, laid over the embedded catalogue and
//! used to price a plan in a region the embedded catalogue lacks.
//!
//! The prices in these files are test figures, not AWS's.

use arbiter_cost::{as_of_date, import_offer, Catalogue, CostEngine, ImportReport, Usage};
use serde_json::{json, Value};

/// Price dimensions of one SKU: `(unit, beginRange, USD)`.
type Dims<'a> = &'a [(&'a str, &'a str, &'a str)];

/// An offer document with `products` (sku → (family, attributes)) and, per
/// sku, its on-demand price dimensions `(unit, beginRange, USD)`.
fn offer(code: &str, products: &[(&str, &str, Value)], prices: &[(&str, Dims<'_>)]) -> String {
    let mut p = serde_json::Map::new();
    for (sku, family, attrs) in products {
        p.insert(
            (*sku).into(),
            json!({"sku": sku, "productFamily": family, "attributes": attrs}),
        );
    }
    let mut od = serde_json::Map::new();
    for (sku, dims) in prices {
        let mut d = serde_json::Map::new();
        for (i, (unit, begin, usd)) in dims.iter().enumerate() {
            d.insert(
                format!("{sku}.TERM.{i}"),
                json!({"unit": unit, "beginRange": begin, "endRange": "Inf", "pricePerUnit": {"USD": usd}}),
            );
        }
        od.insert(
            (*sku).into(),
            json!({format!("{sku}.TERM"): {"offerTermCode": "TERM", "sku": sku, "priceDimensions": d}}),
        );
    }
    json!({
        "formatVersion": "v1.0",
        "offerCode": code,
        "version": "20261115000000",
        "publicationDate": "2026-11-15T00:00:00Z",
        "products": p,
        "terms": {"OnDemand": od}
    })
    .to_string()
}

fn import(text: &str) -> ImportReport {
    import_offer(text.as_bytes(), "offer.json", "offer.json").unwrap()
}

/// `(component, sku, usd)` of every imported row of `resource_type` in `region`.
fn rows(r: &ImportReport, resource_type: &str, region: &str) -> Vec<(String, String, f64)> {
    r.prices
        .iter()
        .filter(|(_, p, _)| p.resource_type == resource_type && p.region == region)
        .map(|(_, p, _)| (p.component.to_string(), p.sku.to_string(), p.usd))
        .collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

fn has(rows: &[(String, String, f64)], component: &str, sku: &str, usd: f64) -> bool {
    rows.iter()
        .any(|(c, s, u)| c == component && s == sku && close(*u, usd))
}

/// Prices a one-resource plan with the imported rows laid over the embedded catalogue.
fn priced_after(r: &ImportReport, region: &str, resource: Value, usage: &str) -> f64 {
    let cat = Catalogue::with_overlay_csv(&r.to_csv(), "imported.csv").unwrap();
    let plan = json!({
        "format_version": "1.2",
        "resource_changes": [{
            "address": resource["address"], "mode": "managed", "type": resource["type"],
            "name": "x", "change": {"actions": ["create"], "before": null, "after": resource["after"], "after_unknown": {}}
        }]
    });
    let plan = arbiter_plan::read_plan_str(&plan.to_string()).unwrap();
    let usage = Usage::from_yaml_str(usage, "u.yml").unwrap();
    let engine = CostEngine::new(cat, usage, Some(region.to_string())).unwrap();
    let c = engine.estimate(&plan, None);
    assert!(c.unpriced.is_empty(), "{:?}", c.unpriced);
    c.monthly_after_usd
}

#[test]
fn s3_storage_classes_and_standard_requests_are_imported() {
    let a = |usage: &str| json!({"servicecode": "AmazonS3", "regionCode": "us-west-2", "usagetype": usage});
    let text = offer(
        "AmazonS3",
        &[
            ("S1", "Storage", a("USW2-TimedStorage-ByteHrs")),
            ("S2", "Storage", a("USW2-TimedStorage-SIA-ByteHrs")),
            ("S3", "API Request", a("USW2-Requests-Tier1")),
            ("S4", "API Request", a("USW2-Requests-Tier2")),
            ("S5", "Storage", a("USW2-TimedStorage-XYZ-ByteHrs")),
            ("S6", "Storage", a("USW2-TimedStorage-GDA-ByteHrs")),
            ("S7", "Data Transfer", a("USW2-DataTransfer-Out-Bytes")),
        ],
        &[
            (
                "S1",
                &[
                    ("GB-Mo", "0", "0.0230000000"),
                    ("GB-Mo", "51200", "0.0220000000"),
                    ("GB-Mo", "512000", "0.0210000000"),
                ],
            ),
            ("S2", &[("GB-Mo", "0", "0.0125000000")]),
            ("S3", &[("Requests", "0", "0.0000050000")]),
            ("S4", &[("Requests", "0", "0.0000004000")]),
            ("S5", &[("GB-Mo", "0", "0.0100000000")]),
            // A unit the mapping does not expect is skipped, never rescaled.
            ("S6", &[("GB-Hrs", "0", "0.0000013600")]),
        ],
    );
    let r = import(&text);
    let s3 = rows(&r, "aws_s3_bucket", "us-west-2");
    assert!(has(&s3, "storage", "standard", 0.023), "{s3:?}");
    assert!(has(&s3, "storage", "standard-ia", 0.0125), "{s3:?}");
    assert!(
        has(&s3, "requests_put_copy_post_list", "standard", 0.005),
        "{s3:?}"
    );
    assert!(
        has(&s3, "requests_get_select_other", "standard", 0.0004),
        "{s3:?}"
    );
    assert_eq!(s3.len(), 4, "{s3:?}");
    assert!(
        r.skipped
            .keys()
            .any(|k| k.contains("TimedStorage-XYZ-ByteHrs")),
        "{:?}",
        r.skipped
    );
    assert!(
        r.skipped
            .keys()
            .any(|k| k.contains("\"GB-Hrs\" where \"GB-Mo\"")),
        "{:?}",
        r.skipped
    );
    assert!(
        r.skipped.contains_key("S3 Data Transfer"),
        "{:?}",
        r.skipped
    );
    let csv = r.to_csv();
    assert!(
        csv.contains("offer price 0.000005 per Requests × 1000"),
        "{csv}"
    );
    // 100 GB × 0.023 + 10,000 PUTs × 0.005 / 1k = 2.30 + 0.05
    let total = priced_after(
        &r,
        "us-west-2",
        json!({"address": "aws_s3_bucket.b", "type": "aws_s3_bucket", "after": {"bucket": "b"}}),
        "version: 0.1\nresource_usage:\n  aws_s3_bucket.b:\n    standard:\n      storage_gb: 100\n      monthly_tier_1_requests: 10000\n",
    );
    assert!(close(total, 2.35), "{total}");
}

#[test]
fn lambda_requests_and_duration_tiers_are_imported() {
    let a = |group: &str, usage: &str| json!({"servicecode": "AWSLambda", "regionCode": "eu-west-1", "group": group, "usagetype": usage});
    let text = offer(
        "AWSLambda",
        &[
            ("L1", "Serverless", a("AWS-Lambda-Requests", "EU-Request")),
            (
                "L2",
                "Serverless",
                a("AWS-Lambda-Duration", "EU-Lambda-GB-Second"),
            ),
            (
                "L3",
                "Serverless",
                a("AWS-Lambda-Duration-ARM", "EU-Lambda-GB-Second-ARM"),
            ),
            (
                "L4",
                "Serverless",
                a("AWS-Lambda-Requests-ARM", "EU-Request-ARM"),
            ),
        ],
        &[
            ("L1", &[("Requests", "0", "0.0000002000")]),
            (
                "L2",
                &[
                    ("Lambda-GB-Second", "0", "0.0000166667"),
                    ("Lambda-GB-Second", "6000000000", "0.0000150000"),
                    ("Lambda-GB-Second", "15000000000", "0.0000133334"),
                ],
            ),
            // Two tiers where three are expected: skipped, not guessed.
            (
                "L3",
                &[
                    ("Lambda-GB-Second", "0", "0.0000133334"),
                    ("Lambda-GB-Second", "7500000000", "0.0000120001"),
                ],
            ),
            ("L4", &[("Requests", "0", "0.0000002000")]),
        ],
    );
    let r = import(&text);
    let l = rows(&r, "aws_lambda_function", "eu-west-1");
    assert!(has(&l, "requests", "x86_64+arm64", 0.2), "{l:?}");
    assert!(
        has(&l, "duration_first_6b_gb_s", "x86_64", 0.0000166667),
        "{l:?}"
    );
    assert!(
        has(&l, "duration_next_9b_gb_s", "x86_64", 0.000015),
        "{l:?}"
    );
    assert!(
        has(&l, "duration_over_15b_gb_s", "x86_64", 0.0000133334),
        "{l:?}"
    );
    assert_eq!(l.len(), 4, "{l:?}");
    assert!(r.conflicts.is_empty(), "{:?}", r.conflicts);
    assert!(
        r.skipped
            .keys()
            .any(|k| k.starts_with("2 priced tiers where 3 were expected")),
        "{:?}",
        r.skipped
    );
    // 1M requests × 0.2/M + 1M × 0.5 s × 1 GB = 500,000 GB-s × 0.0000166667
    let total = priced_after(
        &r,
        "eu-west-1",
        json!({"address": "aws_lambda_function.f", "type": "aws_lambda_function", "after": {"memory_size": 1024}}),
        "version: 0.1\nresource_usage:\n  aws_lambda_function.f:\n    monthly_requests: 1000000\n    request_duration_ms: 500\n",
    );
    assert!(
        (total - (0.2 + 500_000.0 * 0.0000166667)).abs() < 1e-6,
        "{total}"
    );
}

#[test]
fn efs_storage_classes_and_infrequent_access_transfer_are_imported() {
    let a = |usage: &str, access: Option<&str>| {
        let mut v =
            json!({"servicecode": "AmazonEFS", "regionCode": "eu-west-1", "usagetype": usage});
        if let Some(t) = access {
            v["accessType"] = json!(t);
        }
        v
    };
    let text = offer(
        "AmazonEFS",
        &[
            ("E1", "Storage", a("EU-TimedStorage-ByteHrs", None)),
            ("E2", "Storage", a("EU-TimedStorage-Z-ByteHrs", None)),
            ("E3", "Storage", a("EU-IATimedStorage-ByteHrs", None)),
            ("E4", "Storage", a("EU-IATimedStorage-Z-ByteHrs", None)),
            ("E5", "Storage", a("EU-IADataAccess-Bytes", Some("Read"))),
            ("E6", "Storage", a("EU-IADataAccess-Bytes", Some("Write"))),
            (
                "E7",
                "Provisioned Throughput",
                a("EU-ProvisionedTP-MiBpsHrs", None),
            ),
        ],
        &[
            ("E1", &[("GB-Mo", "0", "0.3300000000")]),
            ("E2", &[("GB-Mo", "0", "0.1760000000")]),
            ("E3", &[("GB-Mo", "0", "0.0275000000")]),
            ("E4", &[("GB-Mo", "0", "0.0146000000")]),
            ("E5", &[("GB", "0", "0.0110000000")]),
            ("E6", &[("GB", "0", "0.0110000000")]),
            ("E7", &[("MiBps-Mo", "0", "6.6000000000")]),
        ],
    );
    let r = import(&text);
    let e = rows(&r, "aws_efs_file_system", "eu-west-1");
    for (c, s, u) in [
        ("storage", "standard", 0.33),
        ("storage", "one-zone", 0.176),
        ("storage", "standard-ia", 0.0275),
        ("storage", "one-zone-ia", 0.0146),
        ("ia_read_access", "standard", 0.011),
        ("ia_write_access", "standard", 0.011),
    ] {
        assert!(has(&e, c, s, u), "{c} {s}: {e:?}");
    }
    assert_eq!(e.len(), 6, "{e:?}");
    assert!(
        r.skipped.contains_key("EFS Provisioned Throughput"),
        "{:?}",
        r.skipped
    );
    // 200 GB standard × 0.33 + 50 GB IA × 0.0275 = 66 + 1.375
    let total = priced_after(
        &r,
        "eu-west-1",
        json!({"address": "aws_efs_file_system.fs", "type": "aws_efs_file_system", "after": {"throughput_mode": "bursting"}}),
        "version: 0.1\nresource_usage:\n  aws_efs_file_system.fs:\n    storage_gb: 200\n    infrequent_access_storage_gb: 50\n",
    );
    assert!(close(total, 67.375), "{total}");
}

#[test]
fn dynamodb_capacity_requests_and_storage_skip_free_tiers() {
    let a = |group: Option<&str>, usage: &str| {
        let mut v =
            json!({"servicecode": "AmazonDynamoDB", "regionCode": "eu-west-1", "usagetype": usage});
        if let Some(g) = group {
            v["group"] = json!(g);
        }
        v
    };
    let text = offer(
        "AmazonDynamoDB",
        &[
            (
                "D1",
                "Provisioned IOPS",
                a(Some("DDB-ReadUnits"), "EU-ReadCapacityUnit-Hrs"),
            ),
            (
                "D2",
                "Provisioned IOPS",
                a(Some("DDB-WriteUnits"), "EU-WriteCapacityUnit-Hrs"),
            ),
            (
                "D3",
                "Amazon DynamoDB PayPerRequest Throughput",
                a(Some("DDB-ReadUnits"), "EU-ReadRequestUnits"),
            ),
            (
                "D4",
                "Amazon DynamoDB PayPerRequest Throughput",
                a(Some("DDB-WriteUnits"), "EU-WriteRequestUnits"),
            ),
            ("D5", "Database Storage", a(None, "EU-TimedStorage-ByteHrs")),
            (
                "D6",
                "Database Storage",
                a(None, "EU-IA-TimedStorage-ByteHrs"),
            ),
            (
                "D7",
                "Database Storage",
                a(None, "EU-TimedPITRStorage-ByteHrs"),
            ),
            (
                "D8",
                "Amazon DynamoDB On-Demand Backup Storage",
                a(None, "EU-TimedBackupStorage-ByteHrs"),
            ),
            (
                "D9",
                "Amazon DynamoDB Restore Data Size",
                a(None, "EU-RestoreDataSize-Bytes"),
            ),
            (
                "D10",
                "API Request",
                a(Some("DDB-StreamsReadRequests"), "EU-Streams-Requests"),
            ),
        ],
        &[
            // The first 25 capacity units and GB are a $0 free tier.
            (
                "D1",
                &[
                    ("ReadCapacityUnit-Hrs", "0", "0.0000000000"),
                    ("ReadCapacityUnit-Hrs", "18600", "0.0001470000"),
                ],
            ),
            (
                "D2",
                &[
                    ("WriteCapacityUnit-Hrs", "0", "0.0000000000"),
                    ("WriteCapacityUnit-Hrs", "18600", "0.0007350000"),
                ],
            ),
            ("D3", &[("ReadRequestUnits", "0", "0.0000001415")]),
            ("D4", &[("WriteRequestUnits", "0", "0.0000007070")]),
            (
                "D5",
                &[
                    ("GB-Mo", "0", "0.0000000000"),
                    ("GB-Mo", "25", "0.2830000000"),
                ],
            ),
            ("D6", &[("GB-Mo", "0", "0.1130000000")]),
            ("D7", &[("GB-Mo", "0", "0.2240000000")]),
            ("D8", &[("GB-Mo", "0", "0.1120000000")]),
            ("D9", &[("GB", "0", "0.1680000000")]),
            (
                "D10",
                &[
                    ("Requests", "0", "0.0000000000"),
                    ("Requests", "2500000", "0.0000002260"),
                ],
            ),
        ],
    );
    let r = import(&text);
    let d = rows(&r, "aws_dynamodb_table", "eu-west-1");
    for (c, u) in [
        ("provisioned_rcu_hours", 0.000147),
        ("provisioned_wcu_hours", 0.000735),
        ("on_demand_read_request_units", 0.1415),
        ("on_demand_write_request_units", 0.707),
        ("storage", 0.283),
        ("pitr_backup_storage", 0.224),
        ("on_demand_backup_storage", 0.112),
        ("restore", 0.168),
        ("streams_read_request_units", 0.000000226),
    ] {
        assert!(has(&d, c, "standard", u), "{c}: {d:?}");
    }
    assert_eq!(d.len(), 9, "{d:?}");
    assert!(
        r.skipped.keys().any(|k| k.contains("Standard-IA")),
        "{:?}",
        r.skipped
    );
    let csv = r.to_csv();
    assert!(
        csv.contains("a $0 first tier up to 25 GB-Mo (free tier) left out"),
        "{csv}"
    );
    // On-demand: 2M writes × 0.707/M + 4M reads × 0.1415/M + 100 GB × 0.283
    let total = priced_after(
        &r,
        "eu-west-1",
        json!({"address": "aws_dynamodb_table.t", "type": "aws_dynamodb_table", "after": {"billing_mode": "PAY_PER_REQUEST"}}),
        "version: 0.1\nresource_usage:\n  aws_dynamodb_table.t:\n    monthly_write_request_units: 2000000\n    monthly_read_request_units: 4000000\n    storage_gb: 100\n",
    );
    assert!(close(total, 2.0 * 0.707 + 4.0 * 0.1415 + 28.3), "{total}");
}

#[test]
fn a_product_with_only_zero_prices_is_skipped_not_imported() {
    let text = offer(
        "AmazonS3",
        &[(
            "Z1",
            "Storage",
            json!({"servicecode": "AmazonS3", "regionCode": "us-west-2", "usagetype": "USW2-TimedStorage-ByteHrs"}),
        )],
        &[("Z1", &[("GB-Mo", "0", "0.0000000000")])],
    );
    let r = import(&text);
    assert!(r.prices.is_empty(), "{:?}", r.prices);
    assert_eq!(
        r.skipped.get("only $0 prices (a free tier or no charge)"),
        Some(&1),
        "{:?}",
        r.skipped
    );
}

// ---------------------------------------------------------------------------
// Dates and fields from the file: any text, never a panic
// ---------------------------------------------------------------------------

/// An offer document with these top-level fields replaced (and one EC2
/// product whose attributes are `attrs`).
fn offer_with(fields: &[(&str, Value)], attrs: Value) -> String {
    let mut v: Value = serde_json::from_str(&offer(
        "AmazonEC2",
        &[("SKU1", "Compute Instance", attrs)],
        &[("SKU1", &[("Hrs", "0", "0.0104")])],
    ))
    .unwrap();
    for (k, x) in fields {
        v[*k] = x.clone();
    }
    v.to_string()
}

/// Regression: a publicationDate whose 10th byte falls inside a character
/// ended `arbiter pricing import` in an internal error (the text was cut at
/// byte 10). Now it is an error naming the field, as is any non-date.
#[test]
fn non_ascii_publication_date_is_an_error_not_a_panic() {
    for date in [
        "2026-11-1é",
        "２０２６-11-15T00:00:00Z",
        "2026-11-15",
        "2026-13-01T00:00Z",
        "yesterday!",
    ] {
        let text = offer_with(&[("publicationDate", json!(date))], json!({}));
        let got = import_offer(text.as_bytes(), "offer.json", "offer.json");
        if date == "2026-11-15" {
            assert_eq!(got.unwrap().prices.len(), 0);
            continue;
        }
        let msg = got.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            msg.contains("offer.json")
                && msg.contains("publicationDate")
                && msg.contains("not start with a date"),
            "{date:?}: {msg}"
        );
    }
    // Without a publicationDate the version's date is used; a version with
    // multibyte text in its first eight bytes is refused, not cut.
    for (version, want) in [
        ("20261115000000", Ok("2026-11-15")),
        ("2026111é0000", Err("no publicationDate")),
        ("é", Err("no publicationDate")),
        ("20261399", Err("version")),
    ] {
        assert_eq!(
            as_of_date("", version).map_err(|e| e
                .split(' ')
                .next()
                .unwrap_or_default()
                .to_string()),
            want.map(str::to_string).map_err(|w| w
                .split(' ')
                .next()
                .unwrap_or_default()
                .to_string()),
            "{version:?}"
        );
    }
    assert_eq!(
        as_of_date("2026-11-15T00:00:00Z", "é").unwrap(),
        "2026-11-15"
    );
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    /// Text that mixes ASCII date pieces with multibyte characters, so cuts
    /// at fixed byte offsets land inside characters.
    fn texty() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[0-9é２😀T:Z-]{0,24}",
            "(20[0-9]{2}-[01][0-9]-[0-3][0-9])?[éü😀a-z0-9:T-]{0,12}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

        /// The date parsing answers any strings with a valid date or an
        /// error, never a panic.
        #[test]
        fn as_of_date_never_panics(p in texty(), v in texty()) {
            match as_of_date(&p, &v) {
                Ok(d) => {
                    prop_assert_eq!(d.len(), 10);
                    prop_assert!(p.starts_with(&d) || (p.is_empty() && v.starts_with(&d.replace('-', ""))));
                }
                Err(e) => prop_assert!(!e.is_empty()),
            }
        }

        /// The whole reader, with arbitrary text in the dates, the offer
        /// code and a product's attributes, ends in a report or an error.
        #[test]
        fn import_never_panics_on_field_text(
            p in texty(), v in texty(), code in texty(),
            family in texty(), usage in texty(), location in texty(), memory in texty(),
        ) {
            let text = offer_with(
                &[("publicationDate", json!(p)), ("version", json!(v)), ("offerCode", json!(code))],
                json!({
                    "productFamily": family, "usagetype": usage, "location": location,
                    "regionCode": location, "memory": memory, "instanceType": usage,
                    "operatingSystem": "Linux", "tenancy": "Shared", "preInstalledSw": "NA",
                    "capacitystatus": "Used", "volumeApiName": family, "group": memory,
                }),
            );
            let _ = import_offer(text.as_bytes(), "offer.json", "offer.json");
        }
    }
}
