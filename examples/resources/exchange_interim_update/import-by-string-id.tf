# present becomes whether the update is installed now.
import {
  to = exchange_interim_update.be01_hotfix
  id = "BE01/KB123456" # or "BE01@10.0.20.52/KB123456"
}
