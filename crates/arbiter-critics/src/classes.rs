//! Resource classes that weigh how much breaking a resource hurts.

/// How a resource type matters for blast radius.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ResourceClass {
    /// Holds data: destroying it loses data (databases, buckets, volumes, queues…).
    Stateful,
    /// Others build on it: network, identity, encryption keys, DNS zones, clusters.
    Foundational,
    /// Everything else.
    Ordinary,
}

impl ResourceClass {
    /// Display name.
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceClass::Stateful => "stateful",
            ResourceClass::Foundational => "foundational",
            ResourceClass::Ordinary => "ordinary",
        }
    }
}

const STATEFUL_EXACT: &[&str] = &[
    "aws_db_instance",
    "aws_rds_cluster",
    "aws_rds_cluster_instance",
    "aws_rds_global_cluster",
    "aws_dynamodb_table",
    "aws_dynamodb_global_table",
    "aws_s3_bucket",
    "aws_efs_file_system",
    "aws_elasticache_cluster",
    "aws_elasticache_replication_group",
    "aws_elasticache_serverless_cache",
    "aws_ebs_volume",
    "aws_ebs_snapshot",
    "aws_redshift_cluster",
    "aws_redshiftserverless_namespace",
    "aws_opensearch_domain",
    "aws_elasticsearch_domain",
    "aws_msk_cluster",
    "aws_msk_serverless_cluster",
    "aws_docdb_cluster",
    "aws_docdb_cluster_instance",
    "aws_neptune_cluster",
    "aws_neptune_cluster_instance",
    "aws_kinesis_stream",
    "aws_kinesis_firehose_delivery_stream",
    "aws_sqs_queue",
    "aws_secretsmanager_secret",
    "aws_backup_vault",
    "aws_ecr_repository",
    "aws_glacier_vault",
    "aws_memorydb_cluster",
    "aws_qldb_ledger",
    "aws_keyspaces_table",
    "aws_timestreamwrite_table",
    "aws_cloudwatch_log_group",
    "aws_ssm_parameter",
    "google_sql_database_instance",
    "google_sql_database",
    "google_storage_bucket",
    "google_bigquery_dataset",
    "google_bigquery_table",
    "google_spanner_instance",
    "google_spanner_database",
    "google_bigtable_instance",
    "google_redis_instance",
    "google_filestore_instance",
    "google_compute_disk",
    "google_firestore_database",
    "google_secret_manager_secret",
    "azurerm_storage_account",
    "azurerm_mssql_database",
    "azurerm_mssql_server",
    "azurerm_postgresql_server",
    "azurerm_postgresql_flexible_server",
    "azurerm_mysql_server",
    "azurerm_mysql_flexible_server",
    "azurerm_cosmosdb_account",
    "azurerm_key_vault",
    "azurerm_managed_disk",
    "azurerm_redis_cache",
];

const STATEFUL_PREFIX: &[&str] = &["aws_fsx_", "aws_dax_", "azurerm_storage_"];

const FOUNDATIONAL_EXACT: &[&str] = &[
    "aws_vpc",
    "aws_subnet",
    "aws_route_table",
    "aws_route",
    "aws_route_table_association",
    "aws_internet_gateway",
    "aws_nat_gateway",
    "aws_egress_only_internet_gateway",
    "aws_vpc_peering_connection",
    "aws_vpn_gateway",
    "aws_customer_gateway",
    "aws_vpn_connection",
    "aws_dx_connection",
    "aws_network_acl",
    "aws_kms_key",
    "aws_kms_alias",
    "aws_kms_replica_key",
    "aws_route53_zone",
    "aws_route53_record",
    "aws_eks_cluster",
    "aws_ecs_cluster",
    "aws_lb",
    "aws_alb",
    "aws_elb",
    "aws_lb_listener",
    "aws_alb_listener",
    "aws_security_group",
    "aws_cloudfront_distribution",
    "aws_api_gateway_rest_api",
    "aws_apigatewayv2_api",
    "aws_directory_service_directory",
    "aws_cloudtrail",
    "aws_guardduty_detector",
    "aws_config_configuration_recorder",
    "aws_db_subnet_group",
    "aws_elasticache_subnet_group",
    "google_compute_network",
    "google_compute_subnetwork",
    "google_compute_router",
    "google_compute_router_nat",
    "google_container_cluster",
    "google_kms_crypto_key",
    "google_kms_key_ring",
    "google_dns_managed_zone",
    "google_project",
    "google_folder",
    "google_service_account",
    "azurerm_virtual_network",
    "azurerm_subnet",
    "azurerm_resource_group",
    "azurerm_kubernetes_cluster",
    "azurerm_dns_zone",
    "azurerm_network_security_group",
    "azurerm_firewall",
];

const FOUNDATIONAL_PREFIX: &[&str] = &[
    "aws_iam_",
    "aws_ec2_transit_gateway",
    "aws_organizations_",
    "aws_ssoadmin_",
    "aws_networkfirewall_",
    "google_project_iam",
    "google_organization_",
    "azurerm_role_",
    "azuread_",
];

/// The class of a resource type.
pub fn class_of(resource_type: &str) -> ResourceClass {
    if STATEFUL_EXACT.contains(&resource_type)
        || STATEFUL_PREFIX.iter().any(|p| resource_type.starts_with(p))
    {
        ResourceClass::Stateful
    } else if FOUNDATIONAL_EXACT.contains(&resource_type)
        || FOUNDATIONAL_PREFIX
            .iter()
            .any(|p| resource_type.starts_with(p))
    {
        ResourceClass::Foundational
    } else {
        ResourceClass::Ordinary
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        assert_eq!(class_of("aws_db_instance"), ResourceClass::Stateful);
        assert_eq!(
            class_of("aws_fsx_lustre_file_system"),
            ResourceClass::Stateful
        );
        assert_eq!(class_of("aws_iam_role_policy"), ResourceClass::Foundational);
        assert_eq!(class_of("aws_vpc"), ResourceClass::Foundational);
        assert_eq!(class_of("aws_instance"), ResourceClass::Ordinary);
        assert_eq!(class_of("terraform_data"), ResourceClass::Ordinary);
    }
}
