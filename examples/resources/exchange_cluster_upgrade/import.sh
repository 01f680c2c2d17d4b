# Import by cluster name (CMS, EVS, or the Windows cluster's own name).
terraform import exchange_cluster_upgrade.cms01 CMS01
