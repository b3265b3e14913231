//! Combining critics into a confidence score, and attributing the lost
//! confidence to individual findings.

use crate::CriticOutput;

/// A finding's share of the confidence lost.
#[derive(Debug, Clone, PartialEq)]
pub struct Contribution {
    /// Index of the critic in the input slice.
    pub critic: usize,
    /// Index of the finding in that critic's findings.
    pub finding: usize,
    /// Confidence points (0–100 scale) this finding costs.
    pub points: f64,
}

/// Confidence `100 × Π(1 − risk)` over the critics, and each weighted
/// finding's share of `100 − confidence`, split in proportion to
/// `−ln(1 − weight)` (the exact decomposition of a product of factors).
pub fn combine(critics: &[CriticOutput]) -> (f64, Vec<Contribution>) {
    let keep: f64 = critics
        .iter()
        .map(|c| 1.0 - c.risk.clamp(0.0, 1.0))
        .product();
    let confidence = (100.0 * keep).clamp(0.0, 100.0);
    let lost = 100.0 - confidence;
    let mut logs = Vec::new();
    let mut total = 0.0;
    for (ci, c) in critics.iter().enumerate() {
        for (fi, f) in c.findings.iter().enumerate() {
            let w = f.weight.clamp(0.0, 0.999_999);
            if w > 0.0 {
                let l = -(1.0 - w).ln();
                total += l;
                logs.push((ci, fi, l));
            }
        }
    }
    let contributions = logs
        .into_iter()
        .map(|(critic, finding, l)| Contribution {
            critic,
            finding,
            points: if total > 0.0 { lost * l / total } else { 0.0 },
        })
        .collect();
    (confidence, contributions)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::WeightedFinding;
    use arbiter_verdict::{Effect, Finding, Severity};

    fn wf(w: f64) -> WeightedFinding {
        WeightedFinding {
            weight: w,
            finding: Finding::new("X", "t", Severity::Low, Effect::Warn, None, "m"),
        }
    }

    #[test]
    fn product_and_attribution_add_up() {
        let a = CriticOutput::from_findings(vec![wf(0.5), wf(0.2)], String::new());
        let b = CriticOutput::from_findings(vec![wf(0.1)], String::new());
        assert!((a.risk - 0.6).abs() < 1e-9);
        let (conf, contrib) = combine(&[a, b]);
        assert!((conf - 36.0).abs() < 1e-9);
        let sum: f64 = contrib.iter().map(|c| c.points).sum();
        assert!((sum - 64.0).abs() < 1e-9);
        assert!(contrib[0].points > contrib[1].points && contrib[1].points > contrib[2].points);
    }

    #[test]
    fn no_critics_means_full_confidence() {
        let (conf, contrib) = combine(&[]);
        assert_eq!(conf, 100.0);
        assert!(contrib.is_empty());
    }
}
