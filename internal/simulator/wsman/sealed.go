package wsman

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// WinRM's encrypted messages over HTTP ([MS-WSMV] 2.2.9.1, "Encrypted Message Types"): a
// multipart/encrypted body with protocol "application/HTTP-SPNEGO-session-encrypted", one
// part naming the original content and its length, one part holding the 4-byte little-endian
// signature length, the NTLM signature and the sealed message.
const (
	sealedProtocol = "application/HTTP-SPNEGO-session-encrypted"
	sealedBoundary = "--Encrypted Boundary"
	sealedType     = `multipart/encrypted;protocol="` + sealedProtocol + `";boundary="Encrypted Boundary"`
)

// openSealed unseals a request body sent as contentType.
func openSealed(body []byte, contentType string, s *sealing) ([]byte, error) {
	if !strings.Contains(contentType, `protocol="`+sealedProtocol+`"`) {
		return nil, fmt.Errorf("multipart/encrypted with a protocol other than %s", sealedProtocol)
	}
	head := sealedBoundary + "\r\n\tContent-Type: " + sealedProtocol + "\r\n\tOriginalContent: "
	if !bytes.HasPrefix(body, []byte(head)) {
		return nil, errors.New("the encrypted message does not start with its header part")
	}
	rest := body[len(head):]
	eol := bytes.Index(rest, []byte("\r\n"))
	if eol < 0 {
		return nil, errors.New("the OriginalContent header does not end")
	}
	_, lengthText, ok := strings.Cut(string(rest[:eol]), "Length=")
	length, err := strconv.Atoi(strings.TrimSpace(lengthText))
	if !ok || err != nil || length < 0 {
		return nil, errors.New("the OriginalContent header has no Length")
	}
	rest = rest[eol+2:]
	octets := sealedBoundary + "\r\n\tContent-Type: application/octet-stream\r\n"
	if !bytes.HasPrefix(rest, []byte(octets)) {
		return nil, errors.New("the encrypted message has no octet-stream part")
	}
	rest = rest[len(octets):]
	if len(rest) < 4 {
		return nil, errors.New("the encrypted part is too short")
	}
	sigLen := int(binary.LittleEndian.Uint32(rest))
	if sigLen != 16 || len(rest) < 4+sigLen+length {
		return nil, errors.New("the encrypted part is shorter than its lengths say")
	}
	sig, sealed, tail := rest[4:4+sigLen], rest[4+sigLen:4+sigLen+length], rest[4+sigLen+length:]
	if string(tail) != sealedBoundary+"--\r\n" {
		return nil, errors.New("the encrypted message does not end with its closing boundary")
	}
	return s.unseal(sealed, sig)
}

// sealMessage frames plain, sealed by s, as the body of a multipart/encrypted message.
func sealMessage(plain []byte, s *sealing) []byte {
	sealed, sig := s.seal(plain)
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\r\n\tContent-Type: %s\r\n\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=%d\r\n",
		sealedBoundary, sealedProtocol, len(plain))
	b.WriteString(sealedBoundary + "\r\n\tContent-Type: application/octet-stream\r\n")
	_ = binary.Write(&b, binary.LittleEndian, uint32(len(sig)))
	b.Write(sig)
	b.Write(sealed)
	b.WriteString(sealedBoundary + "--\r\n")
	return b.Bytes()
}

// recorder collects an answer so that it can be sealed before it is sent.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

// sealTo sends the collected answer to w, sealed. Nothing collected (the client went away
// during a Receive) sends nothing.
func (r *recorder) sealTo(w http.ResponseWriter, s *sealing) {
	if r.status == 0 {
		return
	}
	body := sealMessage(r.body.Bytes(), s)
	w.Header().Set("Content-Type", sealedType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(r.status)
	_, _ = w.Write(body)
}
