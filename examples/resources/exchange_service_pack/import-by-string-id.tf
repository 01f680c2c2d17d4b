# The desired level is read from the server: service_pack becomes its live level.
import {
  to = exchange_service_pack.hub01
  id = "HUB01" # or "HUB01@10.0.20.21" when the name does not resolve from where Terraform runs
}
