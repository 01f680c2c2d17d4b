// Package remote runs the provider's named PowerShell operations on a server over WinRM: it
// renders the operation's script (see package wire), runs it in a reused WinRM shell with a
// per-host limit on concurrent commands, retries transient failures within a time budget,
// and decodes the typed result. It never decides what to do; it only runs what it is asked.
package remote

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Auth is the WinRM authentication method.
type Auth string

const (
	// AuthBasic sends the user name and password with every request (HTTP Basic). The server
	// needs Basic auth enabled, and over HTTP also AllowUnencrypted.
	AuthBasic Auth = "basic"
	// AuthNTLM negotiates NTLM; give the user as DOMAIN\user or user@domain.
	AuthNTLM Auth = "ntlm"
	// AuthKerberos is not supported: the pinned client's Kerberos transport needs a krb5.conf,
	// realm and SPN, which Config does not carry. New rejects it with a clear error.
	AuthKerberos Auth = "kerberos"
)

// Defaults.
const (
	DefaultTimeout               = 5 * time.Minute
	DefaultMaxConnectionsPerHost = 2
	// WinRMMaxShellsPerUser is WinRM's default MaxShellsPerUser on Windows Server 2008 R2;
	// the per-host cap must stay below it so the provider never trips the quota on its own.
	WinRMMaxShellsPerUser = 5
)

// Config says how to reach and authenticate to every server.
type Config struct {
	Username, Password string
	HTTPS              bool
	// Port is the WinRM listener's port; 0 means 5986 with HTTPS, 5985 without.
	Port int
	// Insecure skips TLS certificate verification (only when the user says so).
	Insecure bool
	// CACertificate is PEM; when set, the server certificate must chain to one of these
	// certificates. (The pinned client replaces the system roots with them rather than
	// adding to them.)
	CACertificate []byte
	// Auth is the authentication method; "" means basic.
	Auth Auth
	// AllowUnencrypted accepts Basic authentication over HTTP, which sends the password
	// (base64, not encrypted) and every message in the clear. Without it New refuses that
	// combination. NTLM over HTTP seals every message and needs no such consent.
	AllowUnencrypted bool
	// Timeout is the overall budget of one operation, retries included; 0 means 5 minutes.
	Timeout time.Duration
	// MaxConnectionsPerHost caps the commands (and so shells) run at once on one host;
	// 0 means 2. It must stay below WinRM's MaxShellsPerUser (5).
	MaxConnectionsPerHost int
}

// BasicOverHTTPRefusal is why Basic authentication over HTTP is refused unless allowed.
const BasicOverHTTPRefusal = `auth "basic" with https = false sends the password and every message unencrypted: ` +
	`use auth = "ntlm" (WinRM seals every message over HTTP) or https = true, ` +
	`or set allow_unencrypted = true to accept that risk on a trusted network`

// Target is one server: the name it is known by, and where to connect.
type Target struct {
	// Server is the server's name, used in messages and passed to operations.
	Server string
	// Address is the host name or IP address to connect to, optionally with ":port";
	// "" means Server.
	Address string
}

// withDefaults validates cfg and fills in defaults. Messages name the provider attribute and
// never include the password.
func (cfg Config) withDefaults() (Config, error) {
	var errs []error
	if strings.TrimSpace(cfg.Username) == "" {
		errs = append(errs, errors.New("username must be set"))
	}
	if cfg.Password == "" {
		errs = append(errs, errors.New("password must be set"))
	}
	if cfg.Port < 0 || cfg.Port > 65535 {
		errs = append(errs, fmt.Errorf("port must be between 1 and 65535, got %d", cfg.Port))
	}
	switch cfg.Auth {
	case "", AuthBasic, AuthNTLM:
	case AuthKerberos:
		errs = append(errs, errors.New(`auth "kerberos" is not supported: use "ntlm" (domain accounts) or "basic"`))
	default:
		errs = append(errs, fmt.Errorf(`auth must be "basic" or "ntlm", got %q`, string(cfg.Auth)))
	}
	if cfg.Timeout < 0 {
		errs = append(errs, fmt.Errorf("timeout must not be negative, got %s", cfg.Timeout))
	}
	if cfg.MaxConnectionsPerHost < 0 || cfg.MaxConnectionsPerHost >= WinRMMaxShellsPerUser {
		errs = append(errs, fmt.Errorf("max_connections_per_host must be between 1 and %d (below WinRM's MaxShellsPerUser of %d), got %d",
			WinRMMaxShellsPerUser-1, WinRMMaxShellsPerUser, cfg.MaxConnectionsPerHost))
	}
	if len(cfg.CACertificate) > 0 {
		if !cfg.HTTPS {
			errs = append(errs, errors.New("ca_certificate is set but https is false: set https = true to use it"))
		}
		if err := checkPEM(cfg.CACertificate); err != nil {
			errs = append(errs, fmt.Errorf("ca_certificate %w", err))
		}
	}
	if cfg.Insecure && !cfg.HTTPS {
		errs = append(errs, errors.New("insecure is set but https is false: insecure only applies to HTTPS"))
	}
	if cfg.Insecure && len(cfg.CACertificate) > 0 {
		errs = append(errs, errors.New("insecure and ca_certificate are both set: insecure skips the verification ca_certificate is for; remove insecure"))
	}
	if !cfg.HTTPS && (cfg.Auth == "" || cfg.Auth == AuthBasic) && !cfg.AllowUnencrypted {
		errs = append(errs, errors.New(BasicOverHTTPRefusal))
	}
	if len(errs) > 0 {
		return cfg, errors.Join(errs...)
	}
	if cfg.Auth == "" {
		cfg.Auth = AuthBasic
	}
	if cfg.Port == 0 {
		cfg.Port = 5985
		if cfg.HTTPS {
			cfg.Port = 5986
		}
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxConnectionsPerHost == 0 {
		cfg.MaxConnectionsPerHost = DefaultMaxConnectionsPerHost
	}
	return cfg, nil
}

// checkPEM reports whether b holds at least one PEM certificate, and only certificates.
func checkPEM(b []byte) error {
	found := 0
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return fmt.Errorf("must hold only PEM certificates, found a %q block", block.Type)
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return fmt.Errorf("holds a certificate that does not parse: %v", err)
		}
		found++
	}
	if found == 0 {
		return errors.New("must be a PEM certificate (-----BEGIN CERTIFICATE-----)")
	}
	return nil
}

// endpoint returns the host and port to connect to for t.
func (cfg Config) endpoint(t Target) (host string, port int, err error) {
	addr := strings.TrimSpace(t.Address)
	if addr == "" {
		addr = strings.TrimSpace(t.Server)
	}
	if addr == "" {
		return "", 0, errors.New("remote: the target has neither a server name nor an address")
	}
	port = cfg.Port
	if h, p, err := net.SplitHostPort(addr); err == nil {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return "", 0, fmt.Errorf("remote: address %q has a bad port", addr)
		}
		addr, port = h, n
	}
	addr = strings.TrimSuffix(strings.TrimPrefix(addr, "["), "]")
	if strings.ContainsAny(addr, " /\\@?#") {
		return "", 0, fmt.Errorf("remote: address %q is not a host name or IP address", addr)
	}
	return addr, port, nil
}
