package remote

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bodgit/ntlmssp"
	ntlmhttp "github.com/bodgit/ntlmssp/http"
	"github.com/masterzen/winrm"
	"github.com/masterzen/winrm/soap"
)

// sealedNTLM is WinRM's NTLM authentication with message encryption, for HTTP: what a
// default-configured Windows server needs there (AllowUnencrypted = false). Every message is
// sealed and signed with the NTLM session key and sent as multipart/encrypted ([MS-WSMV]
// 2.2.9.1); a message is never sent in the clear, and Basic is never offered the password.
//
// It is built on the NTLM client the pinned masterzen/winrm uses (bodgit/ntlmssp), not on
// winrm.NewEncryption: that one, when its handshake fails, posts the message again through
// the plain NTLM transport, unencrypted, whose negotiator falls back to Basic when that is all
// the server offers (the password in the clear over HTTP); it also ignores the endpoint's
// timeouts.
//
// NTLM authenticates a TCP connection, so each ntlmConn owns exactly one (an http.Transport
// with MaxConnsPerHost 1) and keeps its security context (RC4 streams, sequence numbers)
// across messages; a Post takes one that no other Post uses.
type sealedNTLM struct {
	url                    string
	user, domain, password string

	mu   sync.Mutex
	idle []*ntlmConn
}

func newSealedNTLM(url, username, password string) *sealedNTLM {
	t := &sealedNTLM{url: url, user: username, password: password}
	if d, u, ok := strings.Cut(username, `\`); ok {
		t.domain, t.user = d, u
	} else if u, d, ok := strings.Cut(username, "@"); ok {
		t.domain, t.user = d, u
	}
	return t
}

type ntlmConn struct {
	http    *http.Client
	session *ntlmssp.SecuritySession // nil until the connection is authenticated
}

// Transport is called once by the winrm client; connections are made on demand.
func (t *sealedNTLM) Transport(*winrm.Endpoint) error { return nil }

// Post sends m sealed and returns the unsealed answer. Like the pinned client's transports it
// returns a SOAP fault's body (HTTP 500) as the answer; faultTransport turns it into an error.
func (t *sealedNTLM) Post(_ *winrm.Client, m *soap.SoapMessage) (string, error) {
	c := t.take()
	body, err := t.post(c, []byte(m.String()))
	if err != nil {
		c.http.CloseIdleConnections()
		return "", err
	}
	t.give(c)
	return body, nil
}

func (t *sealedNTLM) take() *ntlmConn {
	t.mu.Lock()
	defer t.mu.Unlock()
	if n := len(t.idle); n > 0 {
		c := t.idle[n-1]
		t.idle = t.idle[:n-1]
		return c
	}
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	return &ntlmConn{http: &http.Client{Transport: &http.Transport{
		DialContext:           dialer.DialContext,
		MaxConnsPerHost:       1,
		MaxIdleConnsPerHost:   1,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: responseHeaderTimeout,
	}}}
}

func (t *sealedNTLM) give(c *ntlmConn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.idle = append(t.idle, c)
}

// closeIdle closes the idle connections (and forgets their security contexts).
func (t *sealedNTLM) closeIdle() {
	t.mu.Lock()
	idle := t.idle
	t.idle = nil
	t.mu.Unlock()
	for _, c := range idle {
		c.http.CloseIdleConnections()
	}
}

func (t *sealedNTLM) post(c *ntlmConn, msg []byte) (string, error) {
	for attempt := 1; ; attempt++ {
		if c.session == nil {
			if err := t.authenticate(c); err != nil {
				return "", err
			}
		}
		resp, err := c.http.Post(t.url, sealedType, bytes.NewReader(sealMessage(msg, c.session)))
		if err != nil {
			c.session = nil
			return "", err
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxOutput))
		resp.Body.Close()
		if err != nil {
			c.session = nil
			return "", err
		}
		if resp.StatusCode == http.StatusUnauthorized && attempt == 1 {
			// The connection was replaced (the server closed the idle one) and the new one
			// has no security context: the server did not read the message. Authenticate again.
			c.session = nil
			continue
		}
		if !strings.Contains(resp.Header.Get("Content-Type"), `protocol="`+sealedProtocol+`"`) {
			c.session = nil
			if resp.StatusCode == http.StatusOK {
				return "", errors.New("the server answered a sealed message in the clear over HTTP: refusing the answer")
			}
			// HTTP.sys or a proxy answering for WinRM (503, 401): not sealed. The texts are
			// the pinned client's, which parseHTTPStatus reads.
			return "", fmt.Errorf("http error %d: %s", resp.StatusCode, truncate(squash(string(body)), 200))
		}
		plain, err := openSealed(body, c.session)
		if err != nil {
			c.session = nil
			return "", fmt.Errorf("reading the sealed answer: %w", err)
		}
		return string(plain), nil
	}
}

// authenticate runs NTLM's handshake on c's connection with an empty request, as WinRM
// clients do before they send sealed messages, so that no message travels before the keys
// exist.
func (t *sealedNTLM) authenticate(c *ntlmConn) error {
	nc, err := ntlmssp.NewClient(ntlmssp.SetUserInfo(t.user, t.password), ntlmssp.SetDomain(t.domain),
		ntlmssp.SetVersion(ntlmssp.DefaultVersion()))
	if err != nil {
		return err
	}
	hc, err := ntlmhttp.NewClient(c.http, nc)
	if err != nil {
		return err
	}
	req, err := http.NewRequest(http.MethodPost, t.url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/soap+xml;charset=UTF-8")
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusUnauthorized && !offers(resp, "Negotiate"):
		return errors.New("http response error: 401 - the server does not offer Negotiate (NTLM) authentication")
	case resp.StatusCode == http.StatusUnauthorized:
		return errors.New("http response error: 401 - the server refused the NTLM authentication")
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("http error %d: the NTLM handshake failed", resp.StatusCode)
	case !nc.Complete() || nc.SecuritySession() == nil:
		return errors.New("the server accepted the connection without NTLM: refusing to send messages it cannot seal")
	}
	c.session = nc.SecuritySession()
	return nil
}

func offers(resp *http.Response, scheme string) bool {
	for _, v := range resp.Header.Values("WWW-Authenticate") {
		if v == scheme || strings.HasPrefix(v, scheme+" ") {
			return true
		}
	}
	return false
}

// The framing of [MS-WSMV] 2.2.9.1: a header part naming the original content and its length,
// then an octet-stream part with the 4-byte little-endian signature length, the signature and
// the sealed message, then the closing boundary.
const (
	sealedProtocol = "application/HTTP-SPNEGO-session-encrypted"
	sealedBoundary = "--Encrypted Boundary"
	sealedType     = `multipart/encrypted;protocol="` + sealedProtocol + `";boundary="Encrypted Boundary"`
	sealedHead     = sealedBoundary + "\r\n\tContent-Type: " + sealedProtocol + "\r\n\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length="
	sealedOctets   = sealedBoundary + "\r\n\tContent-Type: application/octet-stream\r\n"
	sealedEnd      = sealedBoundary + "--\r\n"
)

func sealMessage(plain []byte, s *ntlmssp.SecuritySession) []byte {
	sealed, sig, _ := s.Wrap(plain) // RC4 and HMAC-MD5 cannot fail
	var b bytes.Buffer
	b.WriteString(sealedHead + strconv.Itoa(len(plain)) + "\r\n" + sealedOctets)
	_ = binary.Write(&b, binary.LittleEndian, uint32(len(sig)))
	b.Write(sig)
	b.Write(sealed)
	b.WriteString(sealedEnd)
	return b.Bytes()
}

func openSealed(body []byte, s *ntlmssp.SecuritySession) ([]byte, error) {
	rest, ok := bytes.CutPrefix(body, []byte(sealedBoundary+"\r\n\tContent-Type: "+sealedProtocol+"\r\n\tOriginalContent: "))
	eol := bytes.Index(rest, []byte("\r\n"))
	if !ok || eol < 0 {
		return nil, errors.New("no OriginalContent header")
	}
	_, lengthText, _ := strings.Cut(string(rest[:eol]), "Length=")
	length, err := strconv.Atoi(strings.TrimSpace(lengthText))
	if err != nil || length < 0 {
		return nil, errors.New("no original length")
	}
	rest, ok = bytes.CutPrefix(rest[eol+2:], []byte(sealedOctets))
	if !ok || len(rest) < 4 {
		return nil, errors.New("no octet-stream part")
	}
	sigLen := int(binary.LittleEndian.Uint32(rest))
	if sigLen != 16 || len(rest) != 4+sigLen+length+len(sealedEnd) || !bytes.HasSuffix(rest, []byte(sealedEnd)) {
		return nil, errors.New("the lengths do not add up")
	}
	return s.Unwrap(rest[4+sigLen:4+sigLen+length], rest[4:4+sigLen])
}
