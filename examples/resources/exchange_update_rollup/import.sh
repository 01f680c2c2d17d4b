# Import by server name; the desired rollup is read from the server.
terraform import exchange_update_rollup.cas01 CAS01
