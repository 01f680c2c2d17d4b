package wsman

// The server side of NTLMv2 as WinRM's Negotiate authentication uses it over HTTP, from the
// public specification [MS-NLMP] "NT LAN Manager (NTLM) Authentication Protocol":
//
//   - 2.2.1.1-2.2.1.3 the NEGOTIATE, CHALLENGE and AUTHENTICATE messages, 2.2.2.5 the flags,
//     2.2.2.1 AV_PAIR (target information), 2.2.2.7 NTLMv2_CLIENT_CHALLENGE;
//   - 3.3.2 NTLM v2 authentication: NTOWFv2, NTProofStr, SessionBaseKey;
//   - 3.2.5.1.2 / 3.4.5.1 the key exchange: KeyExchangeKey is the SessionBaseKey for NTLMv2; with
//     NTLMSSP_NEGOTIATE_KEY_EXCH the client sends ExportedSessionKey RC4-encrypted with it;
//   - 3.1.5.1.2 the MIC over the three messages;
//   - 3.4.3 sealing, 3.4.4.2 the signature with extended session security, 3.4.5.2-3.4.5.3
//     SIGNKEY and SEALKEY.
//
// NTLM over HTTP authenticates the TCP connection, not the request: the security context
// (its RC4 streams and sequence numbers) lives with the connection (see ConnContext).

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/rc4"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"strings"
	"time"
	"unicode/utf16"

	//nolint:staticcheck // SA1019: NTOWFv2 is defined with MD4 (MS-NLMP 3.3.2): compatibility is the point.
	"golang.org/x/crypto/md4"
)

// Negotiate flags, [MS-NLMP] 2.2.2.5.
const (
	flagUnicode          = 0x00000001
	flagRequestTarget    = 0x00000004
	flagSign             = 0x00000010
	flagSeal             = 0x00000020
	flagNTLM             = 0x00000200
	flagAlwaysSign       = 0x00008000
	flagTargetTypeDomain = 0x00010000
	flagTargetTypeServer = 0x00020000
	flagESS              = 0x00080000 // NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY
	flagTargetInfo       = 0x00800000
	flagVersion          = 0x02000000
	flag128              = 0x20000000
	flagKeyExch          = 0x40000000
	flag56               = 0x80000000
)

// AV_PAIR ids, [MS-NLMP] 2.2.2.1.
const (
	avEOL             = 0
	avNbComputerName  = 1
	avNbDomainName    = 2
	avDNSComputerName = 3
	avDNSDomainName   = 4
	avFlags           = 6
	avTimestamp       = 7
	avFlagMIC         = 0x2 // MsvAvFlags: the AUTHENTICATE message carries a MIC
)

var ntlmSignature = []byte("NTLMSSP\x00")

// Account is the one account an endpoint accepts, for Basic and for NTLM.
type Account struct {
	// Username is "DOMAIN\user", "user@domain" or "user". A domain given here must match the
	// one the client sends; without one, any domain is accepted (a local account).
	Username string
	Password string
}

// String keeps the password out of logs.
func (a Account) String() string { return "{" + a.Username + " ********}" }

// ntlmConn is one connection's NTLM state: the challenge in flight, then the security
// context once the client has authenticated.
type ntlmConn struct {
	negotiate, challenge []byte // the messages as sent, for the MIC
	serverChallenge      []byte
	// authenticated: the client proved the password on this connection; session is its
	// sealing context, nil when the client did not negotiate sealing (over HTTPS, TLS
	// protects the messages instead).
	authenticated bool
	session       *sealing
	user          string
}

// ntlmChallenge answers a NEGOTIATE_MESSAGE with a CHALLENGE_MESSAGE ([MS-NLMP] 2.2.1.2) and
// remembers both on the connection.
//
// A server in a domain names its NetBIOS domain as the target (NTLMSSP_TARGET_TYPE_DOMAIN), a
// workgroup server itself; some clients take that name as the user's domain.
func (c *ntlmConn) ntlmChallenge(negotiate []byte, computer, domain string) ([]byte, error) {
	if len(negotiate) < 16 || !bytes.Equal(negotiate[:8], ntlmSignature) || binary.LittleEndian.Uint32(negotiate[8:]) != 1 {
		return nil, errors.New("not an NTLM NEGOTIATE message")
	}
	asked := binary.LittleEndian.Uint32(negotiate[12:])
	// What a Windows server grants: NTLMv2 with extended session security, Unicode, target
	// information, and the signing, sealing, key strength and key exchange the client asks for.
	flags := uint32(flagUnicode | flagRequestTarget | flagNTLM | flagAlwaysSign |
		flagESS | flagTargetInfo | flagVersion)
	targetType := uint32(flagTargetTypeServer)
	if domain == "" {
		domain = computer
	} else {
		targetType = flagTargetTypeDomain
	}
	flags |= targetType
	flags |= asked & (flagSign | flagSeal | flag128 | flag56 | flagKeyExch)

	c.serverChallenge = make([]byte, 8)
	if _, err := rand.Read(c.serverChallenge); err != nil {
		return nil, err
	}
	name := utf16le(strings.ToUpper(domain))
	var info bytes.Buffer
	av := func(id uint16, v []byte) {
		_ = binary.Write(&info, binary.LittleEndian, [2]uint16{id, uint16(len(v))})
		info.Write(v)
	}
	av(avNbDomainName, name)
	av(avNbComputerName, utf16le(strings.ToUpper(computer)))
	av(avDNSComputerName, utf16le(strings.ToLower(computer)))
	ts := make([]byte, 8)
	binary.LittleEndian.PutUint64(ts, fileTime(time.Now()))
	av(avTimestamp, ts) // makes the client send a MIC ([MS-NLMP] 3.1.5.1.2)
	av(avEOL, nil)

	const header = 56 // signature, type, TargetNameFields, flags, challenge, reserved, TargetInfoFields, Version
	var m bytes.Buffer
	m.Write(ntlmSignature)
	_ = binary.Write(&m, binary.LittleEndian, uint32(2))
	writeFields(&m, len(name), header)
	_ = binary.Write(&m, binary.LittleEndian, flags)
	m.Write(c.serverChallenge)
	m.Write(make([]byte, 8))
	writeFields(&m, info.Len(), header+len(name))
	m.Write([]byte{6, 1, 0xb1, 0x1d, 0, 0, 0, 0x0f}) // Windows 6.1 build 7601, NTLMSSP_REVISION_W2K3
	m.Write(name)
	m.Write(info.Bytes())

	c.negotiate = append([]byte(nil), negotiate...)
	c.challenge = m.Bytes()
	c.authenticated, c.session, c.user = false, nil, ""
	return c.challenge, nil
}

// errNTLMRefused is a response that does not prove the password; the client sees a 401.
var errNTLMRefused = errors.New("the NTLM response does not match the account's password")

// ntlmAuthenticate checks an AUTHENTICATE_MESSAGE against acct ([MS-NLMP] 3.3.2) and sets up
// the connection's security context. It returns the user as "DOMAIN\user".
func (c *ntlmConn) ntlmAuthenticate(msg []byte, acct Account) (string, error) {
	if c.serverChallenge == nil {
		return "", errors.New("an AUTHENTICATE message without a challenge on this connection")
	}
	serverChallenge := c.serverChallenge
	c.serverChallenge = nil // one answer per challenge
	if len(msg) < 64 || !bytes.Equal(msg[:8], ntlmSignature) || binary.LittleEndian.Uint32(msg[8:]) != 3 {
		return "", errors.New("not an NTLM AUTHENTICATE message")
	}
	field := func(at int) ([]byte, error) {
		n := int(binary.LittleEndian.Uint16(msg[at:]))
		off := int(binary.LittleEndian.Uint32(msg[at+4:]))
		if off < 0 || n < 0 || off+n > len(msg) {
			return nil, errors.New("an AUTHENTICATE field lies outside the message")
		}
		return msg[off : off+n], nil
	}
	var parts [6][]byte // LM, NT, domain, user, workstation, encrypted session key
	for i := range parts {
		b, err := field(12 + 8*i)
		if err != nil {
			return "", err
		}
		parts[i] = b
	}
	nt, domainB, userB, encKey := parts[1], parts[2], parts[3], parts[5]
	var err error
	flags := binary.LittleEndian.Uint32(msg[60:])
	if flags&flagUnicode == 0 || flags&flagESS == 0 {
		return "", errors.New("the client did not accept Unicode and extended session security")
	}
	if len(nt) < 16+28 {
		return "", errors.New("not an NTLMv2 response (NTLMv1 is refused, as LmCompatibilityLevel 5 does)")
	}
	domain, user := fromUTF16le(domainB), fromUTF16le(userB)
	if !acct.matches(user, domain) {
		return "", errNTLMRefused
	}

	// NTOWFv2 = HMAC_MD5(MD4(UNICODE(password)), UNICODE(Uppercase(user) + domain)).
	h := md4.New()
	h.Write(utf16le(acct.Password))
	responseKey := hmacMD5(h.Sum(nil), utf16le(strings.ToUpper(user)+domain))
	proof, temp := nt[:16], nt[16:]
	if subtle.ConstantTimeCompare(proof, hmacMD5(responseKey, append(append([]byte(nil), serverChallenge...), temp...))) != 1 {
		return "", errNTLMRefused
	}
	sessionBaseKey := hmacMD5(responseKey, proof)
	exported := sessionBaseKey // KeyExchangeKey = SessionBaseKey for NTLMv2
	if flags&flagKeyExch != 0 {
		if len(encKey) != 16 {
			return "", errors.New("NTLMSSP_NEGOTIATE_KEY_EXCH without a 16-byte EncryptedRandomSessionKey")
		}
		exported = rc4Once(sessionBaseKey, encKey)
	}
	if micRequired(temp) {
		if len(msg) < 88 {
			return "", errors.New("the AUTHENTICATE message announces a MIC it does not carry")
		}
		zeroed := append([]byte(nil), msg...)
		copy(zeroed[72:88], make([]byte, 16))
		want := hmacMD5(exported, bytes.Join([][]byte{c.negotiate, c.challenge, zeroed}, nil))
		if !hmac.Equal(want, msg[72:88]) {
			return "", errors.New("the AUTHENTICATE message's MIC does not match: the messages were altered")
		}
	}
	if flags&flagSeal != 0 {
		if c.session, err = newSealing(flags, exported); err != nil {
			return "", err
		}
	}
	c.authenticated = true
	c.user = user
	if domain != "" {
		c.user = domain + `\` + user
	}
	return c.user, nil
}

// micRequired reads MsvAvFlags from the NTLMv2 client challenge's AV pairs (after 28 bytes of
// RespType, HiRespType, reserved, timestamp and client challenge).
func micRequired(temp []byte) bool {
	b := temp[28:]
	for len(b) >= 4 {
		id, n := binary.LittleEndian.Uint16(b), int(binary.LittleEndian.Uint16(b[2:]))
		if id == avEOL || len(b) < 4+n {
			return false
		}
		if id == avFlags && n == 4 {
			return binary.LittleEndian.Uint32(b[4:])&avFlagMIC != 0
		}
		b = b[4+n:]
	}
	return false
}

// domain is the account's domain: NetBIOS for DOMAIN\user, the first label for
// user@dns.domain; "" for a local account.
func (a Account) domain() string {
	if d, _, ok := strings.Cut(a.Username, `\`); ok {
		return d
	}
	if _, d, ok := strings.Cut(a.Username, "@"); ok {
		return strings.Split(d, ".")[0]
	}
	return ""
}

// matches compares the client's user and domain with the account; Windows names ignore case.
func (a Account) matches(user, domain string) bool {
	wantDomain, wantUser := "", a.Username
	if d, u, ok := strings.Cut(a.Username, `\`); ok {
		wantDomain, wantUser = d, u
	} else if u, d, ok := strings.Cut(a.Username, "@"); ok {
		wantDomain, wantUser = d, u
	}
	if !strings.EqualFold(user, wantUser) {
		return false
	}
	return wantDomain == "" || strings.EqualFold(domain, wantDomain) ||
		// user@corp.example: the client may send the NetBIOS name or the DNS name.
		strings.EqualFold(domain, strings.Split(wantDomain, ".")[0])
}

// sealing is one direction pair of an NTLM security context with extended session security.
type sealing struct {
	flags           uint32
	inSign, outSign []byte
	in, out         *rc4.Cipher
	inSeq, outSeq   uint32
}

var (
	clientSignMagic = []byte("session key to client-to-server signing key magic constant\x00")
	serverSignMagic = []byte("session key to server-to-client signing key magic constant\x00")
	clientSealMagic = []byte("session key to client-to-server sealing key magic constant\x00")
	serverSealMagic = []byte("session key to server-to-client sealing key magic constant\x00")
)

func newSealing(flags uint32, exported []byte) (*sealing, error) {
	// SEALKEY, [MS-NLMP] 3.4.5.3: the key is cut to 56 or 40 bits unless 128 is negotiated.
	sealKey := func(magic []byte) []byte {
		k := exported
		switch {
		case flags&flag128 != 0:
		case flags&flag56 != 0:
			k = k[:7]
		default:
			k = k[:5]
		}
		return md5sum(k, magic)
	}
	in, err := rc4.NewCipher(sealKey(clientSealMagic))
	if err != nil {
		return nil, err
	}
	out, err := rc4.NewCipher(sealKey(serverSealMagic))
	if err != nil {
		return nil, err
	}
	return &sealing{flags: flags, inSign: md5sum(exported, clientSignMagic), outSign: md5sum(exported, serverSignMagic), in: in, out: out}, nil
}

// signature is the NTLMSSP_MESSAGE_SIGNATURE with extended session security ([MS-NLMP]
// 2.2.2.9.1, 3.4.4.2): version 1, the first 8 bytes of HMAC_MD5(SigningKey, seq + message)
// (RC4-encrypted with the sealing stream when keys were exchanged), the sequence number.
func (s *sealing) signature(key []byte, stream *rc4.Cipher, seq uint32, message []byte) []byte {
	sig := make([]byte, 16)
	binary.LittleEndian.PutUint32(sig, 1)
	binary.LittleEndian.PutUint32(sig[12:], seq)
	mac := hmac.New(md5.New, key)
	mac.Write(sig[12:16])
	mac.Write(message)
	checksum := mac.Sum(nil)[:8]
	if s.flags&flagKeyExch != 0 {
		stream.XORKeyStream(checksum, checksum)
	}
	copy(sig[4:12], checksum)
	return sig
}

// unseal decrypts a client's sealed message and checks its signature and sequence number.
func (s *sealing) unseal(sealed, sig []byte) ([]byte, error) {
	if len(sig) != 16 {
		return nil, errors.New("the message signature is not 16 bytes")
	}
	plain := make([]byte, len(sealed))
	s.in.XORKeyStream(plain, sealed)
	want := s.signature(s.inSign, s.in, s.inSeq, plain)
	if !hmac.Equal(want, sig) {
		return nil, errors.New("the message signature does not match: wrong key, altered message or sequence")
	}
	s.inSeq++
	return plain, nil
}

// seal encrypts the server's message and signs it.
func (s *sealing) seal(plain []byte) (sealed, sig []byte) {
	sealed = make([]byte, len(plain))
	s.out.XORKeyStream(sealed, plain)
	sig = s.signature(s.outSign, s.out, s.outSeq, plain)
	s.outSeq++
	return sealed, sig
}

func writeFields(b *bytes.Buffer, n, offset int) {
	_ = binary.Write(b, binary.LittleEndian, [2]uint16{uint16(n), uint16(n)})
	_ = binary.Write(b, binary.LittleEndian, uint32(offset))
}

func utf16le(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(u))
	for i, r := range u {
		binary.LittleEndian.PutUint16(b[2*i:], r)
	}
	return b
}

func fromUTF16le(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u))
}

func hmacMD5(key, data []byte) []byte {
	m := hmac.New(md5.New, key)
	m.Write(data)
	return m.Sum(nil)
}

func md5sum(a, b []byte) []byte {
	h := md5.New()
	h.Write(a)
	h.Write(b)
	return h.Sum(nil)
}

func rc4Once(key, data []byte) []byte {
	c, _ := rc4.NewCipher(key)
	out := make([]byte, len(data))
	c.XORKeyStream(out, data)
	return out
}

// fileTime is t as a Windows FILETIME: 100 ns intervals since 1601-01-01.
func fileTime(t time.Time) uint64 {
	return uint64(t.UnixNano()/100) + 116444736000000000
}
