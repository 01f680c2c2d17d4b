# Import by cluster (CMS/EVS) name.
terraform import exchange_cluster_upgrade.cms01 CMS01
