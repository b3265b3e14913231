#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `arbiter cost`, `arbiter pricing import|show` and the cost options of
//! `arbiter evaluate`, run as the real binary.

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

const WORKSPACE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn arbiter(args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_arbiter"))
        .args(args)
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).to_string(),
        stderr: String::from_utf8_lossy(&out.stderr).to_string(),
    }
}

fn scenario(name: &str, ext: &str) -> String {
    Path::new(WORKSPACE)
        .join("tests")
        .join(if name.contains('/') { "" } else { "scenarios" })
        .join(format!("{name}.{ext}"))
        .to_string_lossy()
        .to_string()
}

fn extra(name: &str, ext: &str) -> String {
    Path::new(WORKSPACE)
        .join("tests/scenarios-extra")
        .join(format!("{name}.{ext}"))
        .to_string_lossy()
        .to_string()
}

#[test]
fn cost_prints_a_breakdown_table() {
    let r = arbiter(&["cost", &scenario("gpu-instance-dev-budget", "plan.json")]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for needle in [
        "Region: us-east-1",
        "+ aws_instance.trainer  $16,035.18",
        "Instance usage (Linux/UNIX, on-demand, p4d.24xlarge)",
        "$21.957642",
        "$16,029.08",
        "OVERALL TOTAL (monthly)  $0.00 → $16,035.18  (+$16,035.18)",
        "1 resource(s): 1 priced, 0 free, 0 could not be priced",
        "* The quantity is an assumption:",
    ] {
        assert!(
            r.stdout.contains(needle),
            "missing {needle:?} in\n{}",
            r.stdout
        );
    }
}

#[test]
fn cost_json_and_markdown() {
    let r = arbiter(&[
        "cost",
        &scenario("small-dev-environment", "plan.json"),
        "--format",
        "json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["monthly_after_usd"], json!(42.57));
    assert_eq!(v["counts"]["priced"], json!(4));
    let web = v["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["address"] == "module.preview.aws_instance.web[0]")
        .unwrap();
    let c = &web["after"][0];
    assert_eq!(c["unit_price_usd"], json!(0.0208));
    assert_eq!(c["quantity"], json!(730.0));
    assert!(
        c["price_source"].as_str().unwrap().contains("karpenter"),
        "{c}"
    );
    let md = arbiter(&[
        "cost",
        &scenario("small-dev-environment", "plan.json"),
        "-f",
        "markdown",
    ]);
    assert!(
        md.stdout
            .starts_with("### 💰 Monthly cost: +\\$42.57 (\\$0.00 → \\$42.57)"),
        "{}",
        md.stdout
    );
    assert!(
        md.stdout.contains(
            "| + | module.preview.aws\\_instance.web\\[0\\] | \\$0.00 | \\$21.28 | **+\\$21.28** |"
        ),
        "{}",
        md.stdout
    );
}

#[test]
fn usage_files_feed_usage_based_figures_and_bad_ones_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("usage.yml");
    std::fs::write(
        &good,
        "version: 0.1\nresource_usage:\n  aws_lambda_function.api:\n    monthly_requests: 10000000\n    request_duration_ms: 100\n",
    )
    .unwrap();
    let plan = extra("lambda-memory-bump", "plan.json");
    let r = arbiter(&[
        "cost",
        &plan,
        "--usage",
        good.to_str().unwrap(),
        "-f",
        "json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    // 256 → 512 MB: 10M × 0.1 s × 0.25 GB → 0.5 GB; 250,000 → 500,000 GB-s × 0.0000166667; + 2.00 requests.
    let before = v["monthly_before_usd"].as_f64().unwrap();
    let after = v["monthly_after_usd"].as_f64().unwrap();
    assert!(
        (before - 6.17).abs() < 0.01 && (after - 10.33).abs() < 0.01,
        "{before} → {after}"
    );

    let bad = dir.path().join("bad.yml");
    std::fs::write(
        &bad,
        "version: 0.1\nresource_usage:\n  aws_lambda_function.api:\n    monthly_requests: -5\n",
    )
    .unwrap();
    let r = arbiter(&["cost", &plan, "--usage", bad.to_str().unwrap()]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("resource_usage.aws_lambda_function.api.monthly_requests: -5 is negative"),
        "{}",
        r.stderr
    );
    let broken = dir.path().join("broken.yml");
    std::fs::write(&broken, "version: 0.1\nresource_usage:\n  a: [1, 2\n").unwrap();
    let r = arbiter(&["evaluate", &plan, "--usage", broken.to_str().unwrap()]);
    assert_eq!(
        r.code, 1,
        "an unreadable usage file is an error, never an approval"
    );
    assert!(r.stderr.contains("broken.yml: line "), "{}", r.stderr);
    let r = arbiter(&[
        "cost",
        &plan,
        "--usage",
        dir.path().join("missing.yml").to_str().unwrap(),
    ]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("missing.yml"), "{}", r.stderr);
}

#[test]
fn regions_are_checked() {
    let plan = scenario("small-dev-environment", "plan.json");
    let r = arbiter(&["cost", &plan, "--region", "mars-1"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("unknown region \"mars-1\""),
        "{}",
        r.stderr
    );
    let r = arbiter(&["cost", &plan, "--region", "ap-south-1"]);
    assert_eq!(r.code, 0);
    assert!(
        r.stdout.contains("no prices for region ap-south-1"),
        "{}",
        r.stdout
    );
}

/// A small offer file in the public Price List format: one EC2 instance
/// SKU, one Windows SKU (not mapped), an RDS instance, a storage SKU.
fn offer(dir: &Path) -> PathBuf {
    let doc = json!({
        "formatVersion": "v1.0",
        "offerCode": "AmazonEC2",
        "version": "20261101000000",
        "publicationDate": "2026-11-01T00:00:00Z",
        "products": {
            "SKU1": {"sku": "SKU1", "productFamily": "Compute Instance", "attributes": {
                "servicecode": "AmazonEC2", "location": "US East (N. Virginia)", "regionCode": "us-east-1",
                "instanceType": "t3.small", "tenancy": "Shared", "operatingSystem": "Linux", "preInstalledSw": "NA",
                "capacitystatus": "Used", "licenseModel": "No License required", "usagetype": "BoxUsage:t3.small"}},
            "SKU2": {"sku": "SKU2", "productFamily": "Compute Instance", "attributes": {
                "location": "US East (N. Virginia)", "instanceType": "t3.small", "tenancy": "Shared",
                "operatingSystem": "Windows", "preInstalledSw": "NA", "capacitystatus": "Used"}},
            "SKU3": {"sku": "SKU3", "productFamily": "Storage", "attributes": {
                "location": "US West (Oregon)", "volumeApiName": "gp3", "usagetype": "USW2-EBS:VolumeUsage.gp3"}},
            "SKU4": {"sku": "SKU4", "productFamily": "Database Instance", "attributes": {
                "regionCode": "us-east-1", "instanceType": "db.r6g.large", "databaseEngine": "PostgreSQL",
                "deploymentOption": "Multi-AZ", "usagetype": "Multi-AZUsage:db.r6g.large"}},
            "SKU5": {"sku": "SKU5", "productFamily": "Data Transfer", "attributes": {"regionCode": "us-east-1"}}
        },
        "terms": {
            "OnDemand": {
                "SKU1": {"SKU1.JRTCKXETXF": {"offerTermCode": "JRTCKXETXF", "sku": "SKU1", "priceDimensions": {
                    "SKU1.JRTCKXETXF.6YS6EN2CT7": {"unit": "Hrs", "beginRange": "0", "endRange": "Inf", "pricePerUnit": {"USD": "0.0300000000"}}}}},
                "SKU2": {"SKU2.JRTCKXETXF": {"priceDimensions": {"d": {"unit": "Hrs", "pricePerUnit": {"USD": "0.0300000000"}}}}},
                "SKU3": {"SKU3.JRTCKXETXF": {"priceDimensions": {"d": {"unit": "GB-Mo", "pricePerUnit": {"USD": "0.0800000000"}}}}},
                "SKU4": {"SKU4.JRTCKXETXF": {"priceDimensions": {"d": {"unit": "Hrs", "pricePerUnit": {"USD": "0.5000000000"}}}}}
            },
            "Reserved": {"SKU1": {"SKU1.X": {"priceDimensions": {"d": {"unit": "Hrs", "pricePerUnit": {"USD": "0.01"}}}}}}
        }
    });
    let p = dir.join("offer.json");
    std::fs::write(&p, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    p
}

#[test]
fn pricing_import_turns_an_offer_file_into_a_catalogue_that_cost_and_evaluate_use() {
    let dir = tempfile::tempdir().unwrap();
    let offer = offer(dir.path());
    let out = dir.path().join("prices.csv");
    let r = arbiter(&[
        "pricing",
        "import",
        offer.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("5 products read, 3 prices imported"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("skipped: Data Transfer"), "{}", r.stderr);
    let csv = std::fs::read_to_string(&out).unwrap();
    assert!(
        csv.starts_with(
            "service,resource_type,component,sku_key,unit,usd_per_unit,region,source,as_of,notes\n"
        ),
        "{csv}"
    );
    assert!(csv.contains("ec2,aws_instance,instance_hours,t3.small,hour,0.03,us-east-1,AWS Price List offer AmazonEC2 version 20261101000000 (offer.json),2026-11-01,"), "{csv}");
    assert!(
        csv.contains(
            "rds,aws_db_instance,instance_hours,db.r6g.large|postgres|multi-az,hour,0.5,us-east-1,"
        ),
        "{csv}"
    );
    assert!(
        csv.contains("ebs,aws_ebs_volume,storage,gp3,GB-month,0.08,us-west-2,"),
        "{csv}"
    );
    assert!(!csv.contains("Windows"), "Windows is not mapped: {csv}");

    // The imported t3.small price (0.03) replaces the embedded one (0.0208).
    let plan = scenario("small-dev-environment", "plan.json");
    let r = arbiter(&[
        "cost",
        &plan,
        "--catalogue",
        out.to_str().unwrap(),
        "-f",
        "json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    // 2 × (0.03 × 730 = 21.90 + 4.00 + 2.10) = 56.00
    assert_eq!(
        v["monthly_after_usd"],
        json!(56.0),
        "{}",
        v["monthly_after_usd"]
    );
    assert!(v["catalogue"]
        .as_str()
        .unwrap()
        .contains("prices.csv (3 rows)"));

    // The imported RDS row prices a scenario the embedded catalogue cannot.
    let rds = extra("rds-scale-up-class", "plan.json");
    let r = arbiter(&[
        "evaluate",
        &rds,
        "--stack",
        &extra("rds-scale-up-class", "stack.toml"),
        "--catalogue",
        out.to_str().unwrap(),
        "-f",
        "json",
    ]);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["cost"]["computed"], json!(true));
    let unpriced = v["cost"]["unpriced"].as_array().unwrap();
    assert!(
        unpriced[0]["reason"]
            .as_str()
            .unwrap()
            .contains("db.r6g.xlarge"),
        "{unpriced:?}"
    );
    assert!(
        !unpriced[0]["reason"]
            .as_str()
            .unwrap()
            .contains("before the change"),
        "{unpriced:?}"
    );
}

#[test]
fn pricing_import_rejects_what_is_not_an_offer_file() {
    let dir = tempfile::tempdir().unwrap();
    let not_offer = dir.path().join("plan.json");
    std::fs::write(
        &not_offer,
        r#"{"format_version": "1.2", "resource_changes": []}"#,
    )
    .unwrap();
    let r = arbiter(&["pricing", "import", not_offer.to_str().unwrap()]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("not an AWS Price List offer file"),
        "{}",
        r.stderr
    );
    let broken = dir.path().join("broken.json");
    std::fs::write(
        &broken,
        "{\"offerCode\": \"AmazonEC2\",\n \"products\": {\"A\": [}",
    )
    .unwrap();
    let r = arbiter(&["pricing", "import", broken.to_str().unwrap()]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("broken.json") && r.stderr.contains("line 2"),
        "{}",
        r.stderr
    );
    // Regression: a publicationDate with a multibyte character across byte
    // 10 was an internal error (the date was cut at a byte offset).
    let odd_date = offer(dir.path());
    let text = std::fs::read_to_string(&odd_date)
        .unwrap()
        .replace("2026-11-01T00:00:00Z", "2026-11-0１T00:00:00Z");
    std::fs::write(&odd_date, text).unwrap();
    let r = arbiter(&["pricing", "import", odd_date.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("offer.json")
            && r.stderr
                .contains("publicationDate \"2026-11-0１T00:00:00Z\" does not start with a date")
            && !r.stderr.contains("internal error"),
        "{}",
        r.stderr
    );
    let bad_csv = dir.path().join("bad.csv");
    std::fs::write(&bad_csv, "service,resource_type\nec2,aws_instance\n").unwrap();
    let r = arbiter(&[
        "cost",
        &scenario("small-dev-environment", "plan.json"),
        "--catalogue",
        bad_csv.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("bad.csv: line 1: header must be"),
        "{}",
        r.stderr
    );
}

#[test]
fn pricing_show_summarises_the_embedded_catalogue() {
    let r = arbiter(&["pricing", "show"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("us-east-1    aws_instance"),
        "{}",
        r.stdout
    );
    let n: usize = r
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("priced by a cost model ("))
        .and_then(|l| l.split(')').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(n >= 40, "{n} priced types");
}

#[test]
fn evaluate_reports_the_cost_section_of_the_contract() {
    let r = arbiter(&[
        "evaluate",
        &scenario("gpu-instance-dev-budget", "plan.json"),
        "--stack",
        &scenario("gpu-instance-dev-budget", "stack.toml"),
        "-f",
        "json",
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["cost"]["monthly_before_usd"], json!(0.0));
    assert_eq!(v["cost"]["monthly_after_usd"], json!(16035.18));
    assert_eq!(v["cost"]["monthly_delta_usd"], json!(16035.18));
    assert!(v["critics"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["name"] == "cost"));
    let text = arbiter(&[
        "evaluate",
        &scenario("gpu-instance-dev-budget", "plan.json"),
        "--stack",
        &scenario("gpu-instance-dev-budget", "stack.toml"),
    ]);
    assert!(
        text.stdout.contains(
            "Cost: $0.00/mo → $16,035.18/mo (+$16,035.18/mo; budget $1,000.00/mo, over budget)"
        ),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout
            .contains("  + aws_instance.trainer  +$16,035.18/mo (gpu)"),
        "{}",
        text.stdout
    );
}
