// Package wsman is a WS-Management endpoint: enough of the WinRM shell protocol (Create,
// Command, Send, Receive, Signal, Delete) for the real masterzen/winrm client to run commands
// against it. It knows nothing of Exchange: each command goes to a Handler.
package wsman

import (
	"context"
	"io"
	"time"
)

// Command is one command a client started in a shell.
type Command struct {
	// User is the authenticated user name.
	User string
	// ShellID and CommandID identify the command on the wire.
	ShellID, CommandID string
	// CommandLine is the command and its arguments joined by single spaces.
	CommandLine string
	// Stdin yields what the client sends, and io.EOF after the client's last chunk
	// (End="true") or once the command is signalled to stop.
	Stdin io.Reader
}

// Result is what the command printed and its exit code.
type Result struct {
	Stdout, Stderr []byte
	ExitCode       int
	// Unauthorized answers the command's Receive with HTTP 401, as WinRM does once the
	// account is refused (locked out, its password changed); the handler ran nothing.
	Unauthorized bool
}

// Handler runs commands. Run is called once per command, in its own goroutine, as soon as
// the command is created; ctx is cancelled when the client signals terminate or deletes the
// shell. A handler that takes long makes Receive answer with the w:TimedOut fault real
// WinRM uses, which the client retries.
type Handler interface {
	Run(ctx context.Context, cmd Command) Result
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, cmd Command) Result

// Run calls f.
func (f HandlerFunc) Run(ctx context.Context, cmd Command) Result { return f(ctx, cmd) }

// Options configure a Server.
type Options struct {
	// Handler runs every command.
	Handler Handler
	// Authenticate, when set, enables HTTP Basic (WinRM's Service/Auth/Basic, off by default
	// on Windows) and checks its credentials; a request that fails gets 401.
	Authenticate func(user, password string) bool
	// NTLM, when set, enables Negotiate with NTLMv2 (on by default on Windows) for this account.
	// It needs the connection state that ConnContext sets up: give s.ConnContext to the
	// http.Server. Without Authenticate and NTLM every request is accepted unauthenticated.
	NTLM *Account
	// AllowUnencrypted is WinRM's Service/AllowUnencrypted (false by default on Windows): over
	// HTTP, accept messages that are not sealed, and Basic. Without it an authenticated
	// endpoint answers a clear message over HTTP with 401, as Windows does. HTTPS is encrypted
	// by TLS and never refused for it.
	AllowUnencrypted bool
	// ComputerName is the name the NTLM challenge gives for the server; "" means "WSMAN".
	ComputerName string
	// MaxShellsPerUser is WinRM's quota on open shells per user; 0 means 5, as on
	// Windows Server 2008 R2. Creating one more answers the quota fault real WinRM sends.
	MaxShellsPerUser int
	// ReceiveTimeout is how long a Receive waits for output before answering the
	// w:TimedOut fault that the client retries; 0 means one second.
	ReceiveTimeout time.Duration
}
