package webhook

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"net/http"
	"sync"
	"time"
)

// Verifier checks one request's signature over its raw body, given the time
// now. It returns nil when the request is authentic, or an error wrapping one
// of ErrNoSignature, ErrMalformed, ErrMismatch, ErrTimestampTooOld or
// ErrTimestampTooNew. Implementations are safe for concurrent use.
type Verifier interface {
	Verify(h http.Header, body []byte, now time.Time) error
}

// NewVerifier validates c (see Config.Validate), decodes its secrets and
// returns a Verifier for its scheme. Header names are looked up in their
// canonical form, as net/http stores them.
func NewVerifier(c Config) (Verifier, error) {
	k, err := c.compile()
	if err != nil {
		return nil, err
	}
	v := &verifier{scheme: c.Scheme, keys: k, tolerance: c.Tolerance}
	if v.tolerance == 0 {
		v.tolerance = DefaultTolerance
	}
	if len(k.hmac) > 0 {
		v.macSize = k.newHash().Size()
	}
	v.pool.New = func() any {
		st := &state{macs: make([]hash.Hash, len(k.hmac))}
		for i, key := range k.hmac {
			st.macs[i] = hmac.New(k.newHash, key)
		}
		return st
	}
	return v, nil
}

// verifier implements every scheme; Verify dispatches on the scheme name.
type verifier struct {
	scheme    string
	keys      keys
	tolerance time.Duration
	macSize   int
	pool      sync.Pool // of *state
}

var _ Verifier = (*verifier)(nil)

// state is one verification's scratch space, pooled so that the HMAC schemes
// allocate nothing per request once warm.
type state struct {
	macs []hash.Hash // one per HMAC key, in Config order
	sum  [sha512.Size]byte
	pre  []byte // the signed bytes before the body
	enc  []byte // an encoded signature, copied for decoding
	msg  []byte // the whole signed message, for ed25519 only
	nh   int    // HMAC signatures decoded into hs
	ne   int    // ed25519 signatures decoded into es
	hs   [maxEntries][sha512.Size]byte
	es   [maxEntries][ed25519.SignatureSize]byte
}

// maxPooledMsg bounds the ed25519 message buffer kept in the pool, so that
// one huge body does not pin its size in memory.
const maxPooledMsg = 1 << 20

func (v *verifier) get() *state {
	st := v.pool.Get().(*state)
	st.nh, st.ne = 0, 0
	return st
}

func (v *verifier) put(st *state) {
	if cap(st.msg) > maxPooledMsg {
		st.msg = nil
	}
	v.pool.Put(st)
}

func (v *verifier) Verify(h http.Header, body []byte, now time.Time) error {
	switch v.scheme {
	case SchemeStandard:
		return v.verifyStandard(h, body, now)
	case SchemeStripe:
		return v.verifyStripe(h, body, now)
	case SchemeSlack:
		return v.verifySlack(h, body, now)
	case SchemeGitHub, SchemeShopify, SchemeHMAC:
		return v.verifyBody(h, body)
	case SchemeNone:
		return nil
	}
	return fmt.Errorf("scheme %q: %w", v.scheme, ErrInvalidConfig)
}

// matchMAC reports whether the MAC of st.pre followed by body, under any
// key, equals any of the st.nh decoded signatures.
func (v *verifier) matchMAC(st *state, body []byte) bool {
	for _, m := range st.macs {
		m.Reset()
		m.Write(st.pre)
		m.Write(body)
		sum := m.Sum(st.sum[:0])
		for i := range st.nh {
			if hmac.Equal(sum, st.hs[i][:len(sum)]) {
				return true
			}
		}
	}
	return false
}

// headerValue returns the single non-empty value of the canonical header
// key. Absent or empty is ErrNoSignature; repeated or longer than
// maxHeaderLen is ErrMalformed.
func headerValue(h http.Header, scheme, key string) (string, error) {
	vs := h[key]
	switch {
	case len(vs) == 0 || (len(vs) == 1 && vs[0] == ""):
		return "", fmt.Errorf("%s: %s header absent: %w", scheme, key, ErrNoSignature)
	case len(vs) > 1:
		return "", fmt.Errorf("%s: %s header repeated: %w", scheme, key, ErrMalformed)
	case len(vs[0]) > maxHeaderLen:
		return "", fmt.Errorf("%s: %s header longer than %d bytes: %w", scheme, key, maxHeaderLen, ErrMalformed)
	}
	return vs[0], nil
}

// parseUnix parses a timestamp in canonical decimal form: digits only, no
// sign, no leading zero, at most 18 digits. Being canonical, the string is
// exactly what the sender formatted and signed.
func parseUnix(s string) (int64, bool) {
	if len(s) == 0 || len(s) > 18 || (s[0] == '0' && len(s) > 1) {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// checkTime compares a signature's timestamp with now, at second resolution.
func (v *verifier) checkTime(scheme string, ts int64, now time.Time) error {
	d := time.Unix(now.Unix(), 0).Sub(time.Unix(ts, 0))
	switch {
	case d > v.tolerance:
		return fmt.Errorf("%s: signed %s ago, tolerance %s: %w", scheme, d, v.tolerance, ErrTimestampTooOld)
	case d < -v.tolerance:
		return fmt.Errorf("%s: signed %s ahead, tolerance %s: %w", scheme, -d, v.tolerance, ErrTimestampTooNew)
	}
	return nil
}

// b64 is strict so that each signature has exactly one accepted encoding.
var b64 = base64.StdEncoding.Strict()

// decodeHex decodes s, which must be exactly 2*len(dst) hex digits, into dst.
func decodeHex(st *state, dst []byte, s string) bool {
	if len(s) != hex.EncodedLen(len(dst)) {
		return false
	}
	st.enc = append(st.enc[:0], s...)
	_, err := hex.Decode(dst, st.enc)
	return err == nil
}

// decodeBase64 decodes s, which must be the padded standard base64 of exactly
// len(dst) bytes (at most 64), into dst.
func decodeBase64(st *state, dst []byte, s string) bool {
	if len(s) != b64.EncodedLen(len(dst)) {
		return false
	}
	st.enc = append(st.enc[:0], s...)
	// Decode may write up to DecodedLen bytes (66 for 88 characters without
	// padding) before the length is known, more than dst holds.
	var tmp [66]byte
	n, err := b64.Decode(tmp[:b64.DecodedLen(len(s))], st.enc)
	if err != nil || n != len(dst) {
		return false
	}
	copy(dst, tmp[:n])
	return true
}
