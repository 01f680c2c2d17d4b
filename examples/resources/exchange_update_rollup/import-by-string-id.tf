# The desired rollup is read from the server: rollup becomes its live rollup.
import {
  to = exchange_update_rollup.cas01
  id = "CAS01" # or "CAS01@10.0.20.11" when the name does not resolve from where Terraform runs
}
