// Package e2e runs the real Terraform (or OpenTofu) CLI against the built provider binary
// and the simulator, as a user would: one `plan` is one provider process, so what the
// simulator's journal records is exactly what one run costs the servers.
package e2e
