# Import as SERVER/KB.
terraform import exchange_interim_update.be01_hotfix BE01/KB123456
