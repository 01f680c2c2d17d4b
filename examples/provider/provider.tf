provider "exchange" {
  username       = "CONTOSO\\svc-exchange"
  password       = var.exchange_password # or the EXCHANGE_PASSWORD environment variable
  ca_certificate = file("corp-ca.pem")   # CA of the servers' WinRM HTTPS certificates
}

variable "exchange_password" {
  type      = string
  sensitive = true
}
