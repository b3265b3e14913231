#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Fixes of the built-in rule pack turned into HCL patches on a configuration
//! with comments, alignment, `count`, `for_each`, a local module, a remote
//! module and values from variables.

use arbiter_fix::{Patcher, Unlocated};
use arbiter_policy::RulePack;
use std::path::{Path, PathBuf};
use std::process::Command;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/config")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let dest = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_dir(&p, &dest);
        } else {
            std::fs::copy(&p, &dest).unwrap();
        }
    }
}

fn read_all(dir: &Path, out: &mut Vec<(PathBuf, String)>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            read_all(&p, out);
        } else if p.extension().is_some_and(|e| e == "tf") {
            out.push((p.clone(), std::fs::read_to_string(&p).unwrap()));
        }
    }
}

#[test]
fn fixes_become_patches_that_parse_pass_terraform_fmt_and_apply_with_patch() {
    let pack = RulePack::builtin().unwrap();
    let fix = |id: &str| pack.rule(id).unwrap().fix.clone();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("config");
    copy_dir(&fixture(), &root);
    let mut p = Patcher::new(&root);
    let mut outcomes = Vec::new();
    for (rule, address) in [
        ("ARB-AWS-EC2-001", "aws_instance.web[0]"),
        ("ARB-AWS-EC2-001", "aws_instance.web[1]"),
        ("ARB-AWS-EC2-001", "aws_launch_template.lt"),
        ("ARB-AWS-RDS-001", "aws_db_instance.main"),
        ("ARB-AWS-RDS-002", "aws_db_instance.main"),
        ("ARB-AWS-EBS-001", "aws_ebs_volume.data"),
        ("ARB-AWS-NET-006", "aws_default_security_group.default"),
        ("ARB-GCP-SQL-001", "google_sql_database_instance.db"),
        (
            "ARB-AWS-ECACHE-001",
            "module.cache.aws_elasticache_replication_group.this[\"a\"]",
        ),
        (
            "ARB-AWS-ECACHE-002",
            "module.cache.aws_elasticache_replication_group.this[\"a\"]",
        ),
        ("ARB-AWS-S3-001", "module.remote.aws_s3_bucket.this[0]"),
        ("ARB-AWS-EKS-001", "aws_eks_cluster.gone"),
    ] {
        outcomes.push(p.apply(rule, address, &fix(rule)).unwrap());
    }
    let o = |i: usize| &outcomes[i];
    // The comment after the value and the alignment stay; count is noted.
    assert_eq!(
        o(0).applied,
        vec!["metadata_options[0].http_tokens = \"required\""]
    );
    assert!(o(0).all_instances);
    // The second instance maps to the same block: already done.
    assert!(
        o(1).applied.is_empty() && o(1).already.len() == 1,
        "{:?}",
        o(1)
    );
    assert_eq!(o(2).applied.len(), 1);
    assert_eq!(o(3).applied, vec!["publicly_accessible = false"]);
    assert_eq!(
        o(4).unlocated,
        vec![Unlocated::FromVariable {
            step: "storage_encrypted = true".into(),
            variable: "encrypt".into(),
            module: None
        }]
    );
    assert!(o(4).unlocated[0]
        .to_string()
        .contains("variable \"encrypt\""));
    assert_eq!(o(5).applied, vec!["encrypted = true"]);
    assert_eq!(o(6).applied, vec!["ingress = []"], "{:?}", o(6));
    assert_eq!(o(6).already, vec!["egress = []"]);
    assert_eq!(o(7).applied.len(), 1, "{:?}", o(7));
    assert!(
        matches!(&o(8).unlocated[..], [Unlocated::FromVariable { module: Some(m), .. }] if m == "module.cache"),
        "{:?}",
        o(8)
    );
    assert!(o(8).unlocated[0]
        .to_string()
        .contains("input \"encrypt\" of module.cache"));
    assert!(o(8).all_instances);
    assert_eq!(o(9).applied, vec!["transit_encryption_enabled = true"]);
    assert!(o(9)
        .file
        .as_ref()
        .unwrap()
        .ends_with("modules/cache/main.tf"));
    assert!(
        matches!(&o(10).unlocated[..], [Unlocated::ModuleNotLocal { .. }]),
        "{:?}",
        o(10)
    );
    assert!(o(10).unlocated[0]
        .to_string()
        .contains("terraform-aws-modules/s3-bucket/aws"));
    assert!(matches!(
        &o(11).unlocated[..],
        [Unlocated::ResourceNotFound { .. }]
    ));
    assert!(o(11).unlocated[0]
        .to_string()
        .contains("resource \"aws_eks_cluster\" \"gone\""));

    let diff = p.diff();
    println!("{diff}");
    for want in [
        "-    http_tokens   = \"optional\" # legacy agents\n+    http_tokens   = \"required\" # legacy agents\n",
        "+\n+  metadata_options {\n+    http_tokens = \"required\"\n+  }\n",
        "-  publicly_accessible = true\n+  publicly_accessible = false\n",
        "+\n+  encrypted = true\n",
        "-      authorized_networks {\n-        name  = \"everyone\"\n",
        "--- modules/cache/main.tf\n",
        "+  transit_encryption_enabled = true\n",
    ] {
        assert!(diff.contains(want), "missing {want:?} in\n{diff}");
    }
    // Applying the printed diff with `patch` gives what --write writes.
    let by_patch = dir.path().join("by_patch");
    copy_dir(&fixture(), &by_patch);
    std::fs::write(dir.path().join("fix.patch"), &diff).unwrap();
    let out = Command::new("patch")
        .args(["-p0", "-i", "../fix.patch"])
        .current_dir(&by_patch)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let written = p.write().unwrap();
    assert_eq!(written.len(), 2);
    let (mut a, mut b) = (Vec::new(), Vec::new());
    read_all(&root, &mut a);
    read_all(&by_patch, &mut b);
    assert_eq!(
        a.iter().map(|x| &x.1).collect::<Vec<_>>(),
        b.iter().map(|x| &x.1).collect::<Vec<_>>()
    );
    // Every file parses, keeps its comments, and passes terraform fmt -check.
    for (path, text) in &a {
        hcl_edit::parser::parse_body(text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
    let main = std::fs::read_to_string(root.join("main.tf")).unwrap();
    assert!(main.contains("# pinned") && main.contains("# Web tier"));
    let fmt = Command::new("terraform")
        .args(["fmt", "-check", "-diff", "-recursive"])
        .current_dir(&root)
        .output()
        .unwrap();
    assert!(
        fmt.status.success(),
        "terraform fmt -check failed:\n{}",
        String::from_utf8_lossy(&fmt.stdout)
    );
    // A second run over the patched files changes nothing.
    let mut again = Patcher::new(&root);
    let o = again
        .apply(
            "ARB-AWS-EBS-001",
            "aws_ebs_volume.data",
            &fix("ARB-AWS-EBS-001"),
        )
        .unwrap();
    assert_eq!(o.already.len(), 1);
    assert!(again.diff().is_empty());
}

#[test]
fn dynamic_blocks_and_expressions_are_reported_not_guessed() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("main.tf"),
        "locals {\n  public = true\n}\n\nresource \"aws_db_instance\" \"a\" {\n  publicly_accessible = local.public\n}\n\nresource \"aws_instance\" \"b\" {\n  dynamic \"metadata_options\" {\n    for_each = [1]\n    content {\n      http_tokens = \"optional\"\n    }\n  }\n}\n",
    )
    .unwrap();
    let pack = RulePack::builtin().unwrap();
    let mut p = Patcher::new(dir.path());
    let a = p
        .apply(
            "ARB-AWS-RDS-001",
            "aws_db_instance.a",
            &pack.rule("ARB-AWS-RDS-001").unwrap().fix,
        )
        .unwrap();
    assert!(
        matches!(&a.unlocated[..], [Unlocated::FromExpression { expression, .. }] if expression == "local.public"),
        "{a:?}"
    );
    let b = p
        .apply(
            "ARB-AWS-EC2-001",
            "aws_instance.b",
            &pack.rule("ARB-AWS-EC2-001").unwrap().fix,
        )
        .unwrap();
    assert!(
        matches!(&b.unlocated[..], [Unlocated::Dynamic { .. }]),
        "{b:?}"
    );
    assert!(b.unlocated[0].to_string().contains("dynamic block"));
    assert!(p.diff().is_empty());
}

#[test]
fn every_block_steps_list_removals_and_one_line_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let text = r#"resource "aws_transfer_server" "sftp" {
  protocols = ["SFTP", "FTP"] # FTP for the old scanner
}

resource "aws_cloudfront_distribution" "cdn" {
  enabled = true

  origin {
    domain_name = "a.example.com"
    origin_id   = "a"

    custom_origin_config {
      http_port              = 80
      https_port             = 443
      origin_protocol_policy = "http-only"
      origin_ssl_protocols   = ["TLSv1", "TLSv1.2"]
    }
  }

  origin {
    domain_name = "bucket.s3.amazonaws.com"
    origin_id   = "s3"
  }
}

resource "aws_instance" "one_line" {
  ami = "ami-1"
  metadata_options {}
}
"#;
    std::fs::write(dir.path().join("main.tf"), text).unwrap();
    let pack = RulePack::builtin().unwrap();
    let fix = |id: &str| pack.rule(id).unwrap().fix.clone();
    let mut p = Patcher::new(dir.path());
    let t = p
        .apply(
            "ARB-AWS-TLS-001",
            "aws_transfer_server.sftp",
            &fix("ARB-AWS-TLS-001"),
        )
        .unwrap();
    assert_eq!(t.applied, vec!["remove \"FTP\" from protocols"], "{t:?}");
    let c = p
        .apply(
            "ARB-AWS-TLS-001",
            "aws_cloudfront_distribution.cdn",
            &fix("ARB-AWS-TLS-001"),
        )
        .unwrap();
    assert_eq!(c.applied.len(), 2, "{c:?}");
    let i = p
        .apply(
            "ARB-AWS-EC2-001",
            "aws_instance.one_line",
            &fix("ARB-AWS-EC2-001"),
        )
        .unwrap();
    assert_eq!(i.applied.len(), 1, "{i:?}");
    p.write().unwrap();
    let after = std::fs::read_to_string(dir.path().join("main.tf")).unwrap();
    println!("{after}");
    assert!(
        after.contains("protocols = [\"SFTP\"] # FTP for the old scanner"),
        "{after}"
    );
    assert!(
        after.contains("origin_protocol_policy = \"https-only\""),
        "{after}"
    );
    assert!(
        after.contains("origin_ssl_protocols   = [\"TLSv1.2\"]"),
        "{after}"
    );
    // The S3 origin has no custom_origin_config, and gets none.
    assert_eq!(after.matches("custom_origin_config").count(), 1, "{after}");
    assert!(
        after.contains("metadata_options {\n    http_tokens = \"required\"\n  }"),
        "{after}"
    );
    let fmt = Command::new("terraform")
        .args(["fmt", "-check", "-diff"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        fmt.status.success(),
        "terraform fmt -check failed:\n{}",
        String::from_utf8_lossy(&fmt.stdout)
    );
}

#[test]
fn selected_parameter_blocks_are_set() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("db.tf"),
        "resource \"aws_db_parameter_group\" \"pg\" {\n  name   = \"pg\"\n  family = \"postgres14\"\n\n  parameter {\n    name  = \"log_connections\"\n    value = \"0\"\n  }\n\n  parameter {\n    name  = \"rds.force_ssl\"\n    value = \"0\" # TODO\n  }\n}\n",
    )
    .unwrap();
    let pack = RulePack::builtin().unwrap();
    let mut p = Patcher::new(dir.path());
    let o = p
        .apply(
            "ARB-AWS-RDS-901",
            "aws_db_parameter_group.pg",
            &pack.rule("ARB-AWS-RDS-901").unwrap().fix,
        )
        .unwrap();
    assert_eq!(
        o.applied,
        vec!["parameter[name=rds.force_ssl].value = \"1\""],
        "{o:?}"
    );
    assert_eq!(
        o.already,
        vec!["parameter[name=require_secure_transport].value = \"1\""]
    );
    let d = p.diff();
    assert!(
        d.contains("-    value = \"0\" # TODO\n+    value = \"1\" # TODO\n"),
        "{d}"
    );
    assert_eq!(
        d.matches("\n-").count(),
        1,
        "only the selected block changes: {d}"
    );
}
