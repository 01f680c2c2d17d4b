# Import by server name; the desired level is read from the server.
terraform import exchange_service_pack.hub01 HUB01
