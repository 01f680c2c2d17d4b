provider "exchange" {
  username       = "CONTOSO\\svc-exchange"
  password       = var.exchange_password # or the EXCHANGE_PASSWORD environment variable
  ca_certificate = file("corp-ca.pem")   # CA of the servers' WinRM HTTPS certificates

  # Downtime steps (installers, reboots) start only inside this window; a resource's own
  # maintenance_window overrides it.
  maintenance_window {
    days      = ["Sat"]
    start     = "22:00"
    duration  = "4h" # to 02:00 on Sunday
    time_zone = "Europe/Rome"
  }
  # The window a plan schedules is chosen from the plan's time, which the apply of a saved
  # plan sees again: a saved plan applied after its window is refused, naming it.
  plan_timestamp = plantimestamp()
}

variable "exchange_password" {
  type      = string
  sensitive = true
}
