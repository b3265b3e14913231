//! AWS region codes and the location names the Price List uses for them.

/// Region used when neither `--region` nor the plan's provider says one.
pub const DEFAULT_REGION: &str = "us-east-1";

/// `(code, Price List location name)` of the public AWS regions.
pub const REGIONS: &[(&str, &str)] = &[
    ("af-south-1", "Africa (Cape Town)"),
    ("ap-east-1", "Asia Pacific (Hong Kong)"),
    ("ap-east-2", "Asia Pacific (Taipei)"),
    ("ap-northeast-1", "Asia Pacific (Tokyo)"),
    ("ap-northeast-2", "Asia Pacific (Seoul)"),
    ("ap-northeast-3", "Asia Pacific (Osaka)"),
    ("ap-south-1", "Asia Pacific (Mumbai)"),
    ("ap-south-2", "Asia Pacific (Hyderabad)"),
    ("ap-southeast-1", "Asia Pacific (Singapore)"),
    ("ap-southeast-2", "Asia Pacific (Sydney)"),
    ("ap-southeast-3", "Asia Pacific (Jakarta)"),
    ("ap-southeast-4", "Asia Pacific (Melbourne)"),
    ("ap-southeast-5", "Asia Pacific (Malaysia)"),
    ("ap-southeast-7", "Asia Pacific (Thailand)"),
    ("ca-central-1", "Canada (Central)"),
    ("ca-west-1", "Canada West (Calgary)"),
    ("cn-north-1", "China (Beijing)"),
    ("cn-northwest-1", "China (Ningxia)"),
    ("eu-central-1", "EU (Frankfurt)"),
    ("eu-central-2", "EU (Zurich)"),
    ("eu-north-1", "EU (Stockholm)"),
    ("eu-south-1", "EU (Milan)"),
    ("eu-south-2", "EU (Spain)"),
    ("eu-west-1", "EU (Ireland)"),
    ("eu-west-2", "EU (London)"),
    ("eu-west-3", "EU (Paris)"),
    ("il-central-1", "Israel (Tel Aviv)"),
    ("me-central-1", "Middle East (UAE)"),
    ("me-south-1", "Middle East (Bahrain)"),
    ("mx-central-1", "Mexico (Central)"),
    ("sa-east-1", "South America (Sao Paulo)"),
    ("us-east-1", "US East (N. Virginia)"),
    ("us-east-2", "US East (Ohio)"),
    ("us-gov-east-1", "AWS GovCloud (US-East)"),
    ("us-gov-west-1", "AWS GovCloud (US-West)"),
    ("us-west-1", "US West (N. California)"),
    ("us-west-2", "US West (Oregon)"),
];

/// Whether `code` is a public AWS region code.
pub fn is_known(code: &str) -> bool {
    REGIONS.iter().any(|(c, _)| *c == code)
}

/// The region code of a Price List `location` name.
pub fn from_location(location: &str) -> Option<&'static str> {
    REGIONS
        .iter()
        .find(|(_, l)| *l == location)
        .map(|(c, _)| *c)
}

/// The region of an ARN (`arn:aws:ec2:us-east-1:…`) or an availability zone
/// (`us-east-1a`, `use1-az1` is not resolved), when it is a known region.
pub fn from_arn_or_zone(s: &str) -> Option<&'static str> {
    if let Some(rest) = s.strip_prefix("arn:") {
        let region = rest.split(':').nth(2)?;
        return REGIONS.iter().find(|(c, _)| *c == region).map(|(c, _)| *c);
    }
    let trimmed = s.trim_end_matches(|c: char| c.is_ascii_lowercase());
    // "us-east-1a" → "us-east-1"; the zone letter is the only trailing letter.
    if trimmed.len() + 1 == s.len() {
        return REGIONS.iter().find(|(c, _)| *c == trimmed).map(|(c, _)| *c);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_from_names_arns_and_zones() {
        assert!(is_known("eu-west-1") && !is_known("mars-1"));
        assert_eq!(from_location("US East (N. Virginia)"), Some("us-east-1"));
        assert_eq!(
            from_arn_or_zone("arn:aws:rds:eu-west-1:123:db:x"),
            Some("eu-west-1")
        );
        assert_eq!(from_arn_or_zone("us-west-2b"), Some("us-west-2"));
        assert_eq!(from_arn_or_zone("us-west-2"), None);
        assert_eq!(from_arn_or_zone("arn:aws:iam::123:role/x"), None);
    }
}
