//! The cost breakdown of `arbiter cost`: a table that reads like Infracost's
//! breakdown, JSON, and a markdown PR comment with the before/after diff.
//! Also the short cost block of a verdict's text and markdown reports.

use crate::common::{action_symbol, clean_line, finite_or, round_to, truncate_chars};
use crate::markdown::inline;
use arbiter_verdict::money::{group_thousands, usd, usd_delta, MoneyStyle};
use arbiter_verdict::{CostComponent, CostSummary, ResourceCost};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Most resources listed one by one in the table and markdown formats.
const MAX_LISTED: usize = 500;
/// Longest component name shown in the table.
const MAX_NAME: usize = 72;
/// GitHub's comment limit, minus room for the footer.
const MAX_COMMENT_CHARS: usize = 65_000;

/// A quantity as people read it: `730`, `1,000`, `0.25`, `1.5e-6`.
pub(crate) fn qty(v: f64) -> String {
    let v = finite_or(v, 0.0);
    if v == 0.0 {
        return "0".into();
    }
    if v.fract() == 0.0 && v.abs() < 1e15 {
        let out = group_thousands(&format!("{:.0}", v.abs()));
        return if v < 0.0 { format!("-{out}") } else { out };
    }
    if v.abs() >= 0.01 {
        let s = format!("{v:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        format!("{v:.3e}")
    }
}

/// The components shown for a resource: after the change, or before it
/// when the resource goes away.
pub(crate) fn shown(r: &ResourceCost) -> &[CostComponent] {
    if r.after.is_empty() {
        &r.before
    } else {
        &r.after
    }
}

fn resource_money(r: &ResourceCost) -> String {
    match r.action.as_str() {
        "create" => usd(r.monthly_after_usd, MoneyStyle::Cents),
        "delete" | "forget" => format!("-{}", usd(r.monthly_before_usd, MoneyStyle::Cents)),
        _ if (r.monthly_delta_usd).abs() >= 0.005 => format!(
            "{} → {} ({})",
            usd(r.monthly_before_usd, MoneyStyle::Cents),
            usd(r.monthly_after_usd, MoneyStyle::Cents),
            usd_delta(r.monthly_delta_usd, MoneyStyle::Cents)
        ),
        _ => usd(r.monthly_after_usd, MoneyStyle::Cents),
    }
}

/// Assumption texts with the components that rest on them.
fn assumptions(c: &CostSummary) -> Vec<(String, Vec<String>)> {
    let mut by: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in &c.resources {
        for comp in shown(r) {
            if let Some(a) = &comp.assumption {
                by.entry(a.to_string())
                    .or_default()
                    .push(format!("{} / {}", r.address, comp.name));
            }
        }
    }
    by.into_iter().collect()
}

/// The breakdown as a table (`arbiter cost`, `--format table`).
pub(crate) fn table(c: &CostSummary, plan: Option<&str>) -> String {
    let mut out = String::new();
    if let Some(p) = plan {
        let _ = writeln!(out, "Project: {}", clean_line(p));
    }
    let _ = writeln!(
        out,
        "Region: {}  ·  catalogue {}",
        clean_line(c.region.as_deref().unwrap_or("-")),
        clean_line(c.catalogue.as_deref().unwrap_or("-"))
    );
    if let Some(n) = &c.note {
        let _ = writeln!(out, "Note: {}", clean_line(n));
    }
    if !c.computed {
        let _ = writeln!(out, "\nCost not computed.");
        return out;
    }
    let listed: Vec<&ResourceCost> = c.resources.iter().take(MAX_LISTED).collect();
    let name_w = listed
        .iter()
        .flat_map(|r| {
            shown(r)
                .iter()
                .map(|x| x.name.chars().count().min(MAX_NAME) + 4)
        })
        .chain(std::iter::once(40))
        .max()
        .unwrap_or(40);
    let _ = writeln!(
        out,
        "\n {:<name_w$}  {:>12}  {:<12}  {:>12}  {:>14}",
        "Name", "Monthly Qty", "Unit", "Unit price", "Monthly Cost"
    );
    for r in &listed {
        let head = format!("{} {}", action_symbol(&r.action), clean_line(&r.address));
        let _ = writeln!(out, "\n {head}  {}", resource_money(r));
        let comps = shown(r);
        for (i, comp) in comps.iter().enumerate() {
            let branch = if i + 1 == comps.len() {
                "└─"
            } else {
                "├─"
            };
            let name = truncate_chars(&clean_line(&comp.name), MAX_NAME);
            let star = if comp.assumed { "  *" } else { "" };
            let _ = writeln!(
                out,
                " {branch} {name:<w$}  {:>12}  {:<12}  {:>12}  {:>14}{star}",
                qty(comp.quantity),
                truncate_chars(&clean_line(&comp.unit), 12),
                usd(comp.unit_price_usd, MoneyStyle::UnitPrice),
                usd(comp.monthly_usd, MoneyStyle::Cents),
                w = name_w - 3
            );
        }
        if !r.details.is_empty() {
            let _ = writeln!(out, "    ({})", clean_line(&r.details.join("; ")));
        }
    }
    let more = c.resources.len().saturating_sub(listed.len()) + c.omitted_resources;
    if more > 0 {
        let _ = writeln!(
            out,
            "\n … and {more} more priced resource(s), counted in the totals"
        );
    }
    let _ = writeln!(
        out,
        "\n OVERALL TOTAL (monthly)  {} → {}  ({})",
        usd(c.monthly_before_usd, MoneyStyle::Cents),
        usd(c.monthly_after_usd, MoneyStyle::Cents),
        usd_delta(c.monthly_delta_usd, MoneyStyle::Cents)
    );
    let k = &c.counts;
    let _ = writeln!(
        out,
        "\n{} resource(s): {} priced, {} free, {} could not be priced",
        k.priced + k.free + k.unpriced,
        k.priced,
        k.free,
        k.unpriced
    );
    let notes = assumptions(c);
    if !notes.is_empty() {
        let _ = writeln!(out, "\n* The quantity is an assumption:");
        for (text, comps) in notes {
            let who = if comps.len() == 1 {
                clean_line(&comps[0])
            } else {
                format!("{} and {} more", clean_line(&comps[0]), comps.len() - 1)
            };
            let _ = writeln!(out, "  - {}: {}", who, clean_line(&text));
        }
    }
    if !c.unpriced.is_empty() {
        let _ = writeln!(out, "\nCould not be priced (not in the totals):");
        for u in c.unpriced.iter().take(MAX_LISTED) {
            let _ = writeln!(
                out,
                "  {} {}  {}",
                action_symbol(&u.action),
                clean_line(&u.address),
                clean_line(&u.reason)
            );
        }
        let more = c.unpriced.len().saturating_sub(MAX_LISTED) + c.omitted_unpriced;
        if more > 0 {
            let _ = writeln!(out, "  … and {more} more");
        }
    }
    for w in &c.warnings {
        let _ = writeln!(out, "\nwarning: {}", clean_line(w));
    }
    out
}

/// The breakdown as JSON: the `CostSummary`, money rounded to cents.
pub(crate) fn json(c: &CostSummary) -> String {
    let w = wire(c);
    serde_json::to_string_pretty(&w).unwrap_or_else(|e| {
        let err = serde_json::Value::String(format!("serialising the cost: {e}"));
        format!("{{\n  \"error\": {err}\n}}")
    })
}

/// Money rounded to cents, non-finite numbers made 0 (JSON cannot carry them).
pub(crate) fn wire(c: &CostSummary) -> CostSummary {
    let mut w = c.clone();
    let m = |v: &mut f64| *v = round_to(finite_or(*v, 0.0), 2);
    m(&mut w.monthly_before_usd);
    m(&mut w.monthly_after_usd);
    m(&mut w.monthly_delta_usd);
    for r in &mut w.resources {
        m(&mut r.monthly_before_usd);
        m(&mut r.monthly_after_usd);
        m(&mut r.monthly_delta_usd);
        for comp in r.before.iter_mut().chain(r.after.iter_mut()) {
            comp.monthly_usd = round_to(finite_or(comp.monthly_usd, 0.0), 4);
            comp.quantity = finite_or(comp.quantity, 0.0);
            comp.unit_price_usd = finite_or(comp.unit_price_usd, 0.0);
        }
    }
    w
}

/// The PR comment: the diff of monthly cost per resource, the breakdown in
/// a collapsible block, what could not be priced.
pub(crate) fn markdown(c: &CostSummary, plan: Option<&str>) -> String {
    let mut limit = MAX_LISTED;
    loop {
        let out = markdown_with(c, plan, limit);
        if out.chars().count() <= MAX_COMMENT_CHARS || limit == 0 {
            return out;
        }
        limit /= 2;
    }
}

fn markdown_with(c: &CostSummary, plan: Option<&str>, limit: usize) -> String {
    let mut out = String::new();
    if !c.computed {
        let _ = writeln!(out, "### 💰 Monthly cost: not computed\n");
        return out;
    }
    let _ = writeln!(
        out,
        "### 💰 Monthly cost: {} ({} → {})\n",
        inline(&usd_delta(c.monthly_delta_usd, MoneyStyle::Cents)),
        inline(&usd(c.monthly_before_usd, MoneyStyle::Cents)),
        inline(&usd(c.monthly_after_usd, MoneyStyle::Cents))
    );
    let k = &c.counts;
    let mut line = format!(
        "Region {} · {} priced, {} free, {} could not be priced",
        inline(c.region.as_deref().unwrap_or("-")),
        k.priced,
        k.free,
        k.unpriced
    );
    if let Some(p) = plan {
        line = format!("Plan {} · {line}", inline(p));
    }
    let _ = writeln!(out, "{line}\n");
    let changed: Vec<&ResourceCost> = c
        .resources
        .iter()
        .filter(|r| r.monthly_delta_usd.abs() >= 0.005)
        .collect();
    let unchanged = c.resources.len() - changed.len();
    if changed.is_empty() {
        let _ = writeln!(out, "No priced resource changes cost.\n");
    } else {
        let _ = writeln!(
            out,
            "| | Resource | Before | After | Change |\n|---|---|---:|---:|---:|"
        );
        for r in changed.iter().take(limit) {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | **{}** |",
                inline(action_symbol(&r.action)),
                inline(&r.address),
                inline(&usd(r.monthly_before_usd, MoneyStyle::Cents)),
                inline(&usd(r.monthly_after_usd, MoneyStyle::Cents)),
                inline(&usd_delta(r.monthly_delta_usd, MoneyStyle::Cents))
            );
        }
        if changed.len() > limit {
            let _ = writeln!(out, "| | … and {} more | | | |", changed.len() - limit);
        }
        out.push('\n');
    }
    if unchanged > 0 || c.omitted_resources > 0 {
        let _ = writeln!(
            out,
            "{} priced resource(s) keep their cost.\n",
            unchanged + c.omitted_resources
        );
    }
    let comps: usize = changed.iter().map(|r| shown(r).len()).sum();
    if comps > 0 {
        let _ = writeln!(
            out,
            "<details><summary>Breakdown ({comps} components)</summary>\n"
        );
        let _ = writeln!(
            out,
            "| Resource | Component | Quantity | Unit price | Monthly |\n|---|---|---:|---:|---:|"
        );
        for r in changed.iter().take(limit) {
            for comp in shown(r) {
                let star = if comp.assumed { " \\*" } else { "" };
                let _ = writeln!(
                    out,
                    "| {} | {}{star} | {} {} | {} | {} |",
                    inline(&r.address),
                    inline(&comp.name),
                    inline(&qty(comp.quantity)),
                    inline(&comp.unit),
                    inline(&usd(comp.unit_price_usd, MoneyStyle::UnitPrice)),
                    inline(&usd(comp.monthly_usd, MoneyStyle::Cents))
                );
            }
        }
        let _ = writeln!(out, "\n</details>\n");
    }
    let notes = assumptions(c);
    if !notes.is_empty() {
        let _ = writeln!(
            out,
            "<details><summary>\\* Assumptions ({})</summary>\n",
            notes.len()
        );
        for (text, comps) in notes.iter().take(limit) {
            let who = if comps.len() == 1 {
                inline(&comps[0])
            } else {
                format!("{} and {} more", inline(&comps[0]), comps.len() - 1)
            };
            let _ = writeln!(out, "- {who}: {}", inline(text));
        }
        let _ = writeln!(out, "\n</details>\n");
    }
    if !c.unpriced.is_empty() {
        let _ = writeln!(out, "**Could not be priced** (not in the totals):\n");
        for u in c.unpriced.iter().take(limit) {
            let _ = writeln!(
                out,
                "- {} ({}) — {}",
                inline(&u.address),
                inline(&u.action),
                inline(&u.reason)
            );
        }
        let more = c.unpriced.len().saturating_sub(limit) + c.omitted_unpriced;
        if more > 0 {
            let _ = writeln!(out, "- … and {more} more");
        }
        out.push('\n');
    }
    for w in &c.warnings {
        let _ = writeln!(out, "> ⚠️ {}\n", inline(w));
    }
    out
}

/// The largest cost changes of a verdict, for its text report: up to
/// `max` lines `  + address  +$12.00/mo (gpu)`.
pub(crate) fn top_lines(c: &CostSummary, max: usize) -> Vec<String> {
    let mut lines: Vec<String> = c
        .resources
        .iter()
        .filter(|r| r.monthly_delta_usd.abs() >= 0.005)
        .take(max)
        .map(|r| {
            let classes = if r.classes.is_empty() {
                String::new()
            } else {
                format!(" ({})", class_list(&r.classes))
            };
            format!(
                "{} {}  {}/mo{classes}",
                action_symbol(&r.action),
                clean_line(&r.address),
                usd_delta(r.monthly_delta_usd, MoneyStyle::Cents)
            )
        })
        .collect();
    if c.counts.unpriced > 0 {
        lines.push(format!(
            "{} resource(s) could not be priced (not in the totals; `arbiter cost` lists why)",
            c.counts.unpriced
        ));
    }
    lines
}

/// The classes of a resource, comma-separated.
pub(crate) fn class_list(classes: &[arbiter_verdict::CostClass]) -> String {
    let names: Vec<&str> = classes.iter().map(|c| c.as_str()).collect();
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(qty(730.0), "730");
        assert_eq!(qty(21_900.0), "21,900");
        assert_eq!(qty(0.25), "0.25");
        assert_eq!(qty(0.0000015), "1.500e-6");
    }
}
