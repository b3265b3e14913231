//! Money in US dollars, formatted in one place for every report, critic and
//! cost model: [`usd`] and [`usd_delta`], with a [`MoneyStyle`] for the
//! few deliberate differences (a report table shows cents, a critic's
//! sentence rounds large amounts to whole dollars, a unit price keeps its
//! small digits).

/// How an amount is written. Every style writes a minus before the dollar
/// sign (`-$3.00`) and never a negative zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoneyStyle {
    /// Cents always, thousands grouped: `$1,234.50`, `-$3.00`, `$0.00`.
    /// Rounded half away from zero; a non-finite amount is `$0.00`. Reports
    /// and tables.
    Cents,
    /// Whole dollars, grouped, from $1,000 (`$23,592`), cents below
    /// (`$15.18`); a non-finite amount is `$0.00`. Sentences (the cost
    /// critic's summaries), where cents on large sums are noise.
    Rounded,
    /// A unit price: at least cents, at most ten decimals, trailing zeros
    /// dropped, not grouped: `$0.0416`, `$1.00`; non-finite is `$0.00`.
    UnitPrice,
    /// Every digit the amount has, no trailing zeros, not grouped: `$0.0416`,
    /// `$3`. Catalogue prices quoted in notes (`$3.06/hour`).
    Exact,
}

/// `value` dollars written in `style`.
pub fn usd(value: f64, style: MoneyStyle) -> String {
    match style {
        MoneyStyle::Cents => cents(value),
        MoneyStyle::Rounded => rounded(value),
        MoneyStyle::UnitPrice => unit_price(value),
        MoneyStyle::Exact => exact(value),
    }
}

/// A change of `value` dollars with an explicit sign: `+$130.00`, `-$12.50`.
///
/// With [`MoneyStyle::Rounded`] (sentences) every amount that is not
/// negative gets a plus, zero included (`+$0.00`); with the other styles
/// only an amount that is positive once rounded to cents does (`$0.00`).
pub fn usd_delta(value: f64, style: MoneyStyle) -> String {
    let plus = match style {
        MoneyStyle::Rounded => value >= 0.0,
        _ => round_cents(finite(value)) > 0.0,
    };
    if plus {
        format!("+{}", usd(value, style))
    } else {
        usd(value, style)
    }
}

/// The integer part of a decimal (`1234567.5`, `-1234`) with a comma every
/// three digits (`1,234,567.5`); the fraction is kept as it is.
pub fn group_thousands(digits: &str) -> String {
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let mut out = String::with_capacity(digits.len() + int.len() / 3);
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    out
}

fn finite(value: f64) -> f64 {
    if value.is_finite() {
        value
    } else {
        0.0
    }
}

/// Rounded to cents, half away from zero; never `-0.0`; a value too large
/// to round is returned as it is.
fn round_cents(value: f64) -> f64 {
    if !value.is_finite() {
        return value;
    }
    let rounded = (value * 100.0).round() / 100.0;
    if !rounded.is_finite() {
        value
    } else if rounded == 0.0 {
        0.0
    } else {
        rounded
    }
}

fn cents(value: f64) -> String {
    let v = round_cents(finite(value));
    let sign = if v < 0.0 { "-" } else { "" };
    // f64 → integer: `as` saturates, so absurd values cannot panic.
    let cents_total = (v.abs() * 100.0).round() as u128;
    let dollars = group_thousands(&(cents_total / 100).to_string());
    format!("{sign}${dollars}.{:02}", cents_total % 100)
}

fn rounded(value: f64) -> String {
    let v = finite(value);
    let a = v.abs();
    let body = if a >= 1000.0 {
        group_thousands(&format!("{a:.0}"))
    } else {
        format!("{a:.2}")
    };
    if v < 0.0 && body.chars().any(|c| c != '0' && c != '.') {
        format!("-${body}")
    } else {
        format!("${body}")
    }
}

fn unit_price(value: f64) -> String {
    let s = format!("{:.10}", finite(value));
    let s = s.trim_end_matches('0');
    let s = if s.ends_with('.') {
        format!("{s}00")
    } else {
        s.to_string()
    };
    // At least cents.
    let s = match s.split_once('.') {
        Some((i, f)) if f.len() < 2 => format!("{i}.{f:0<2}"),
        _ => s,
    };
    format!("${s}")
}

fn exact(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("${value:.0}")
    } else {
        format!("${value}")
    }
}

#[cfg(test)]
mod tests {
    use super::MoneyStyle::{Cents, Exact, Rounded, UnitPrice};
    use super::*;

    #[test]
    fn cents_show_cents_signs_and_thousands() {
        assert_eq!(usd(0.0, Cents), "$0.00");
        assert_eq!(usd(1234.5, Cents), "$1,234.50");
        assert_eq!(usd(1_000_000.0, Cents), "$1,000,000.00");
        assert_eq!(usd(-3.0, Cents), "-$3.00");
        assert_eq!(usd(-0.001, Cents), "$0.00");
        assert_eq!(usd(0.125, Cents), "$0.13");
        assert_eq!(usd(f64::NAN, Cents), "$0.00");
        assert_eq!(usd(f64::MAX, Cents).chars().next(), Some('$'));
        assert_eq!(usd_delta(130.0, Cents), "+$130.00");
        assert_eq!(usd_delta(-12.5, Cents), "-$12.50");
        assert_eq!(usd_delta(-0.001, Cents), "$0.00");
        assert_eq!(usd_delta(0.001, Cents), "$0.00");
        assert_eq!(usd_delta(0.0, Cents), "$0.00");
    }

    #[test]
    fn rounded_drops_cents_from_a_thousand() {
        assert_eq!(usd(23_591.64, Rounded), "$23,592");
        assert_eq!(usd(999.994, Rounded), "$999.99");
        assert_eq!(usd(15.184, Rounded), "$15.18");
        assert_eq!(usd(-30.0, Rounded), "-$30.00");
        assert_eq!(usd(-0.001, Rounded), "$0.00");
        assert_eq!(usd(f64::INFINITY, Rounded), "$0.00");
        assert_eq!(usd_delta(23_591.64, Rounded), "+$23,592");
        assert_eq!(usd_delta(-0.001, Rounded), "$0.00");
        assert_eq!(usd_delta(0.0, Rounded), "+$0.00");
    }

    #[test]
    fn unit_prices_keep_their_small_digits() {
        assert_eq!(usd(0.0416, UnitPrice), "$0.0416");
        assert_eq!(usd(1.0, UnitPrice), "$1.00");
        assert_eq!(usd(0.5, UnitPrice), "$0.50");
        assert_eq!(usd(1234.5, UnitPrice), "$1234.50");
        assert_eq!(usd(f64::NAN, UnitPrice), "$0.00");
        assert_eq!(usd(3.06, Exact), "$3.06");
        assert_eq!(usd(3.0, Exact), "$3");
        assert_eq!(usd(0.0000000309, Exact), "$0.0000000309");
    }

    #[test]
    fn thousands_are_grouped_in_the_integer_part_only() {
        assert_eq!(group_thousands("1234567"), "1,234,567");
        assert_eq!(group_thousands("1234.5678"), "1,234.5678");
        assert_eq!(group_thousands("999"), "999");
        assert_eq!(group_thousands(""), "");
    }
}
