//! `arbiter pricing`: the price catalogue (`import` an AWS offer file, `show`
//! what the embedded catalogue covers).

use crate::output::emit;
use anyhow::Context;
use arbiter_cost::Catalogue;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(clap::Subcommand)]
pub enum PricingCommand {
    /// Turn an AWS Price List offer file into a catalogue CSV for `--catalogue`.
    ///
    /// Reads the public bulk offer format (JSON: `products` + `terms.OnDemand`).
    #[command(
        after_help = "Offer files: https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/index.json lists them,\n\
e.g. .../offers/v1.0/aws/AmazonEC2/current/us-east-1/index.json.\n\
Mapped: EC2 Linux shared-tenancy on-demand instances, EBS storage and IOPS, NAT gateways,\n\
RDS instances (MySQL, PostgreSQL, MariaDB, Aurora) and storage, ElastiCache nodes,\n\
S3 storage and requests, Lambda requests and duration, EFS storage, DynamoDB.\n\n\
Example:\n  arbiter pricing import AmazonEC2-us-east-1.json -o prices.csv\n  arbiter cost plan.json --catalogue prices.csv"
    )]
    Import {
        /// The offer file (`index.json` of one service, optionally one region).
        file: PathBuf,
        /// Write the catalogue here instead of stdout.
        #[arg(long, short = 'o', value_name = "OUT.csv")]
        output: Option<PathBuf>,
    },
    /// Summarise the embedded catalogue and the resource types it covers.
    ///
    /// Prices per region and resource type, the types priced by a cost
    /// model, and the number known to have no charge of their own.
    Show,
}

pub fn run(cmd: PricingCommand) -> anyhow::Result<u8> {
    match cmd {
        PricingCommand::Import { file, output } => {
            let report = arbiter_cost::import_offer_file(&file)?;
            if report.prices.is_empty() {
                anyhow::bail!(
                    "{}: nothing in this offer file maps to a catalogue row\n{}",
                    file.display(),
                    report.summary()
                );
            }
            emit(&report.to_csv(), output.as_deref())
                .with_context(|| "writing the catalogue".to_string())?;
            eprintln!("{}", report.summary());
            Ok(0)
        }
        PricingCommand::Show => {
            let c = Catalogue::embedded();
            let mut by: BTreeMap<(String, String), usize> = BTreeMap::new();
            for p in Catalogue::embedded_prices() {
                *by.entry((p.region.to_string(), p.resource_type.to_string()))
                    .or_default() += 1;
            }
            let mut out = format!(
                "catalogue {} ({} prices)\n\nprices per region and resource type:\n",
                c.name(),
                c.len()
            );
            for ((region, rtype), n) in by {
                out.push_str(&format!("  {region:<12} {rtype:<44} {n:>4}\n"));
            }
            let priced = arbiter_cost::priced_types();
            out.push_str(&format!(
                "\npriced by a cost model ({}):\n  {}\n",
                priced.len(),
                priced.join("\n  ")
            ));
            let free = arbiter_cost::free_types();
            out.push_str(&format!(
                "\nknown to have no charge of their own ({}; see data/pricing/free.csv)\n",
                free.len()
            ));
            emit(&out, None)?;
            Ok(0)
        }
    }
}
