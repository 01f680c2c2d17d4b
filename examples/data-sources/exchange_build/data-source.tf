# The newest update rollup of Exchange 2007 SP3.
data "exchange_build" "sp3_latest" {
  product      = "2007"
  service_pack = 3
}

# A given rollup, including re-releases.
data "exchange_build" "sp3_ru8_v3" {
  product       = "2007"
  service_pack  = 3
  update_rollup = "8-v3"
}

# What a build string is.
data "exchange_build" "live" {
  build = "8.1.393.1" # Exchange 2007 SP1 Update Rollup 9
}
