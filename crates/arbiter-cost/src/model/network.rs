//! Networking: elastic IPs, NAT gateways, load balancers, VPC endpoints,
//! transit gateway attachments, Route 53.

use super::{check, times, Model, Pricer, Stop, Text, HOURS_PER_MONTH};

const VPC: &[&str] = &["aws_nat_gateway"];

pub(crate) const EIP: Model = Model {
    resource_type: "aws_eip",
    keys: &["domain", "vpc"],
    usage_keys: &[],
    price: eip,
};

fn eip(p: &mut Pricer<'_>) -> Result<(), Stop> {
    // Every public IPv4 address is billed hourly since February 2024,
    // attached or not.
    p.add_hourly(
        "Public IPv4 address",
        1.0,
        &["aws_eip"],
        "public_ipv4_hours",
        "public-ipv4",
        None,
    )?;
    Ok(())
}

pub(crate) const NAT_GATEWAY: Model = Model {
    resource_type: "aws_nat_gateway",
    keys: &["connectivity_type"],
    usage_keys: &["monthly_data_processed_gb"],
    price: nat_gateway,
};

fn nat_gateway(p: &mut Pricer<'_>) -> Result<(), Stop> {
    p.add_hourly_and_data(
        "NAT gateway",
        1.0,
        None,
        VPC,
        "hours",
        "data_processed",
        "nat-gateway",
    )
}

pub(crate) const LB: Model = Model {
    resource_type: "aws_lb",
    keys: &["load_balancer_type"],
    usage_keys: &["capacity_units"],
    price: lb,
};

pub(crate) const ALB: Model = Model {
    resource_type: "aws_alb",
    keys: LB.keys,
    usage_keys: LB.usage_keys,
    price: lb,
};

fn lb(p: &mut Pricer<'_>) -> Result<(), Stop> {
    const T: &[&str] = &["aws_lb"];
    let kind = p
        .attrs
        .str("load_balancer_type")
        .unwrap_or("application")
        .to_string();
    match kind.as_str() {
        "application" => {
            p.add_hourly("Application load balancer", 1.0, T, "hours", "application", None)?;
            p.add_usage("Load balancer capacity units", "LCU-hours", "capacity_units", 0.0, HOURS_PER_MONTH, T, "lcu_hours", "application")
        }
        "network" => {
            p.add_hourly("Network load balancer", 1.0, T, "hours", "network", None)?;
            p.add_usage("Load balancer capacity units", "NLCU-hours", "capacity_units", 0.0, HOURS_PER_MONTH, T, "nlcu_hours", "network")
        }
        other => Err(Stop::Unpriced(format!(
            "load_balancer_type {other:?}: no prices in the catalogue (application and network only)"
        ))),
    }
}

pub(crate) const ELB: Model = Model {
    resource_type: "aws_elb",
    keys: &[],
    usage_keys: &["monthly_data_processed_gb"],
    price: elb,
};

fn elb(p: &mut Pricer<'_>) -> Result<(), Stop> {
    const T: &[&str] = &["aws_elb"];
    p.add_hourly_and_data(
        "Classic load balancer",
        1.0,
        None,
        T,
        "hours",
        "data_processed",
        "classic",
    )
}

pub(crate) const VPC_ENDPOINT: Model = Model {
    resource_type: "aws_vpc_endpoint",
    keys: &["vpc_endpoint_type", "subnet_ids"],
    usage_keys: &["monthly_data_processed_gb"],
    price: vpc_endpoint,
};

fn vpc_endpoint(p: &mut Pricer<'_>) -> Result<(), Stop> {
    const T: &[&str] = &["aws_vpc_endpoint"];
    let kind = p
        .attrs
        .str("vpc_endpoint_type")
        .unwrap_or("Gateway")
        .to_ascii_lowercase();
    match kind.as_str() {
        "gateway" => Err(Stop::Free(
            "gateway endpoints (S3, DynamoDB) have no charge".into(),
        )),
        "interface" | "gatewayloadbalancer" => {
            let sku = kind.as_str();
            // One endpoint network interface per subnet (AZ), each billed hourly.
            let (n, note) = match p.attrs.len_of("subnet_ids").filter(|n| *n > 0) {
                Some(n) => (n as f64, None),
                None => (
                    1.0,
                    Some(if p.attrs.is_unknown("subnet_ids") {
                        "subnet_ids known only after apply: 1 zone assumed".to_string()
                    } else {
                        "no subnet_ids: 1 zone assumed".to_string()
                    }),
                ),
            };
            let n = check("subnet_ids", n, 1000.0)?;
            let label = if sku == "interface" {
                "Interface endpoint"
            } else {
                "Gateway Load Balancer endpoint"
            };
            p.add_hourly(
                format!("{} zone(s)", times(label, n)),
                n,
                T,
                "endpoint_hours",
                sku,
                note.map(Text::from),
            )?;
            let (gb, a) = p.usage_value("monthly_data_processed_gb", 0.0);
            if sku == "interface" {
                // Tiers: first 1 PB, next 4 PB, over 5 PB a month.
                let pb = 1_048_576.0;
                let tiers = [
                    ("data_processed_first_1pb", "first 1 PB", gb.min(pb)),
                    (
                        "data_processed_next_4pb",
                        "next 4 PB",
                        (gb - pb).clamp(0.0, 4.0 * pb),
                    ),
                    (
                        "data_processed_over_5pb",
                        "over 5 PB",
                        (gb - 5.0 * pb).max(0.0),
                    ),
                ];
                for (i, (component, label, q)) in tiers.into_iter().enumerate() {
                    if i == 0 || q > 0.0 {
                        p.add_priced(
                            format!("Data processed ({label})"),
                            "GB",
                            q,
                            T,
                            component,
                            "interface",
                            if i == 0 { a.clone() } else { None },
                        )?;
                    }
                }
                Ok(())
            } else {
                p.add_priced("Data processed", "GB", gb, T, "data_processed", sku, a)
            }
        }
        other => Err(Stop::Unpriced(format!(
            "vpc_endpoint_type {other:?} is not known"
        ))),
    }
}

pub(crate) const TGW_VPC_ATTACHMENT: Model = Model {
    resource_type: "aws_ec2_transit_gateway_vpc_attachment",
    keys: &[],
    usage_keys: &["monthly_data_processed_gb"],
    price: tgw_attachment,
};

fn tgw_attachment(p: &mut Pricer<'_>) -> Result<(), Stop> {
    const T: &[&str] = &["aws_ec2_transit_gateway_vpc_attachment"];
    p.add_hourly_and_data(
        "Transit gateway attachment",
        1.0,
        None,
        T,
        "attachment_hours",
        "data_processed",
        "vpc-attachment",
    )
}

pub(crate) const ROUTE53_ZONE: Model = Model {
    resource_type: "aws_route53_zone",
    keys: &[],
    usage_keys: &[],
    price: route53_zone,
};

fn route53_zone(p: &mut Pricer<'_>) -> Result<(), Stop> {
    // The catalogue has the price of the first 25 zones of an account.
    let price = p.price(
        &["aws_route53_zone"],
        "hosted_zone_months",
        "first-25-zones",
    )?;
    p.add("Hosted zone", "months", 1.0, price, None);
    Ok(())
}

pub(crate) const ROUTE53_RECORD: Model = Model {
    resource_type: "aws_route53_record",
    keys: &[
        "alias",
        "latency_routing_policy",
        "geolocation_routing_policy",
    ],
    usage_keys: &[
        "monthly_standard_queries",
        "monthly_latency_based_queries",
        "monthly_geo_queries",
    ],
    price: route53_record,
};

fn route53_record(p: &mut Pricer<'_>) -> Result<(), Stop> {
    const T: &[&str] = &["aws_route53_record"];
    // Queries to alias records of AWS resources are free.
    if !p.attrs.blocks("alias").is_empty() {
        return Err(Stop::Free(
            "alias records to AWS resources: queries have no charge".into(),
        ));
    }
    let (sku, key, label) = if !p.attrs.blocks("latency_routing_policy").is_empty() {
        (
            "latency",
            "monthly_latency_based_queries",
            "Latency based routing queries",
        )
    } else if !p.attrs.blocks("geolocation_routing_policy").is_empty() {
        ("geo", "monthly_geo_queries", "Geo DNS queries")
    } else {
        ("standard", "monthly_standard_queries", "Standard queries")
    };
    let (q, a) = p.usage_value(key, 0.0);
    let billion = 1e9;
    p.add_priced(
        format!("{label} (first 1B)"),
        "1M queries",
        q.min(billion) / 1e6,
        T,
        "queries_first_1b",
        sku,
        a,
    )?;
    if q > billion {
        p.add_priced(
            format!("{label} (over 1B)"),
            "1M queries",
            (q - billion) / 1e6,
            T,
            "queries_over_1b",
            sku,
            None,
        )?;
    }
    Ok(())
}

pub(crate) const TGW_PEERING_ATTACHMENT: Model = Model {
    resource_type: "aws_ec2_transit_gateway_peering_attachment",
    keys: &[],
    usage_keys: &[],
    price: tgw_peering,
};

fn tgw_peering(p: &mut Pricer<'_>) -> Result<(), Stop> {
    // Traffic over a peering attachment is billed as inter-region data
    // transfer by the sending side, not per GB processed.
    p.add_hourly(
        "Transit gateway attachment",
        1.0,
        &["aws_ec2_transit_gateway_peering_attachment"],
        "attachment_hours",
        "peering-attachment",
        None,
    )?;
    Ok(())
}

pub(crate) const VPN_CONNECTION: Model = Model {
    resource_type: "aws_vpn_connection",
    keys: &["transit_gateway_id"],
    usage_keys: &["monthly_data_processed_gb"],
    price: vpn_connection,
};

fn vpn_connection(p: &mut Pricer<'_>) -> Result<(), Stop> {
    const T: &[&str] = &["aws_vpn_connection"];
    p.add_hourly(
        "VPN connection",
        1.0,
        T,
        "connection_hours",
        "site-to-site",
        None,
    )?;
    // A connection on a transit gateway is also a billed attachment.
    if p.attrs.str("transit_gateway_id").is_some() || p.attrs.is_unknown("transit_gateway_id") {
        p.add_hourly_and_data(
            "Transit gateway attachment",
            1.0,
            None,
            T,
            "tgw_attachment_hours",
            "tgw_data_processed",
            "vpn-attachment",
        )?;
    }
    Ok(())
}

pub(crate) const CLIENT_VPN_ENDPOINT: Model = Model {
    resource_type: "aws_ec2_client_vpn_endpoint",
    keys: &[],
    usage_keys: &["monthly_connection_hours"],
    price: client_vpn_endpoint,
};

fn client_vpn_endpoint(p: &mut Pricer<'_>) -> Result<(), Stop> {
    // Each subnet association is billed on its own resource; the endpoint
    // itself bills the client connections.
    p.add_usage(
        "Client connections",
        "connection-hours",
        "monthly_connection_hours",
        0.0,
        1.0,
        &["aws_ec2_client_vpn_endpoint"],
        "connection_hours",
        "client-vpn",
    )
}

pub(crate) const CLIENT_VPN_ASSOCIATION: Model = Model {
    resource_type: "aws_ec2_client_vpn_network_association",
    keys: &[],
    usage_keys: &[],
    price: client_vpn_association,
};

fn client_vpn_association(p: &mut Pricer<'_>) -> Result<(), Stop> {
    p.add_hourly(
        "Endpoint association",
        1.0,
        &["aws_ec2_client_vpn_network_association"],
        "association_hours",
        "client-vpn",
        None,
    )?;
    Ok(())
}

pub(crate) const NETWORK_FIREWALL: Model = Model {
    resource_type: "aws_networkfirewall_firewall",
    keys: &["subnet_mapping"],
    usage_keys: &["monthly_data_processed_gb"],
    price: network_firewall,
};

fn network_firewall(p: &mut Pricer<'_>) -> Result<(), Stop> {
    const T: &[&str] = &["aws_networkfirewall_firewall"];
    // One firewall endpoint per subnet mapping (zone), each billed hourly.
    let (n, note) = match p.attrs.blocks("subnet_mapping").len() {
        0 => (
            1.0,
            Some(Text::from(if p.attrs.is_unknown("subnet_mapping") {
                "subnet_mapping known only after apply: 1 endpoint assumed"
            } else {
                "no subnet_mapping: 1 endpoint assumed"
            })),
        ),
        k => (check("subnet_mapping", k as f64, 1000.0)?, None),
    };
    p.add_hourly_and_data(
        times("Firewall endpoint", n),
        n,
        note,
        T,
        "endpoint_hours",
        "data_processed",
        "firewall-endpoint",
    )
}

pub(crate) const RESOLVER_ENDPOINT: Model = Model {
    resource_type: "aws_route53_resolver_endpoint",
    keys: &["ip_address"],
    usage_keys: &["monthly_queries"],
    price: resolver_endpoint,
};

fn resolver_endpoint(p: &mut Pricer<'_>) -> Result<(), Stop> {
    const T: &[&str] = &["aws_route53_resolver_endpoint"];
    // Billed per IP address (elastic network interface) per hour; an
    // endpoint has at least two.
    let (n, note) = match p.attrs.blocks("ip_address").len() {
        k if k >= 2 => (check("ip_address", k as f64, 1000.0)?, None),
        _ => (
            2.0,
            Some(Text::from(
                "fewer than 2 ip_address blocks known: 2 (the least an endpoint has) assumed",
            )),
        ),
    };
    p.add_hourly(
        times("Resolver endpoint IP addresses", n),
        n,
        T,
        "ip_address_hours",
        "resolver-endpoint",
        note,
    )?;
    p.add_tiered(
        "DNS queries",
        "1M queries",
        "monthly_queries",
        1e-6,
        &[
            ("queries_first_1b", "first 1B", 1000.0),
            ("queries_over_1b", "over 1B", f64::INFINITY),
        ],
        T,
        "resolver-endpoint",
    )
}

pub(crate) const ROUTE53_HEALTH_CHECK: Model = Model {
    resource_type: "aws_route53_health_check",
    keys: &[
        "type",
        "measure_latency",
        "request_interval",
        "search_string",
    ],
    usage_keys: &[],
    price: health_check,
};

fn health_check(p: &mut Pricer<'_>) -> Result<(), Stop> {
    const T: &[&str] = &["aws_route53_health_check"];
    let kind = p.attrs.str("type").unwrap_or("HTTP").to_ascii_uppercase();
    // Optional features, each billed monthly: HTTPS, string matching,
    // latency measurement, the fast (10 s) interval.
    let mut features = 0.0;
    if kind.starts_with("HTTPS") {
        features += 1.0;
    }
    if kind.ends_with("STR_MATCH") {
        features += 1.0;
    }
    if p.attrs.bool("measure_latency") == Some(true) {
        features += 1.0;
    }
    if p.attrs
        .num("request_interval")
        .is_some_and(|s| s > 0.0 && s < 30.0)
    {
        features += 1.0;
    }
    // The plan cannot tell whether the endpoint runs in AWS; AWS endpoints
    // are the cheaper rate.
    let note = Text::from("priced as an AWS endpoint; endpoints outside AWS cost more");
    let price = p.price(T, "health_check_months", "aws-endpoint")?;
    p.add("Health check", "months", 1.0, price, Some(note.clone()));
    if features > 0.0 {
        p.add_priced(
            "Optional features",
            "months",
            features,
            T,
            "optional_feature_months",
            "aws-endpoint",
            Some(note),
        )?;
    }
    Ok(())
}
