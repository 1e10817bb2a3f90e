package webhook

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Standard Webhooks header names, in canonical form.
const (
	HeaderWebhookID        = "Webhook-Id"
	HeaderWebhookTimestamp = "Webhook-Timestamp"
	HeaderWebhookSignature = "Webhook-Signature"
)

// Standard Webhooks key prefixes.
const (
	prefixSecret     = "whsec_" // symmetric secret, base64
	prefixPrivateKey = "whsk_"  // ed25519 private key: base64 of the 32-byte seed (the 64-byte form is accepted too)
	prefixPublicKey  = "whpk_"  // ed25519 public key, base64
)

// verifyStandard checks webhook-signature entries "v1,<b64>" (HMAC-SHA256)
// and "v1a,<b64>" (ed25519) over "id.timestamp.body". Entries of other
// versions are ignored; any one valid entry passes.
func (v *verifier) verifyStandard(h http.Header, body []byte, now time.Time) error {
	const scheme = SchemeStandard
	id, err := headerValue(h, scheme, HeaderWebhookID)
	if err != nil {
		return err
	}
	tsText, err := headerValue(h, scheme, HeaderWebhookTimestamp)
	if err != nil {
		return err
	}
	sigs, err := headerValue(h, scheme, HeaderWebhookSignature)
	if err != nil {
		return err
	}
	// The spec forbids '.' in the id: with it, bytes could move between id,
	// timestamp and body without changing what is signed.
	if strings.IndexByte(id, '.') >= 0 {
		return fmt.Errorf("%s: %s contains '.': %w", scheme, HeaderWebhookID, ErrMalformed)
	}
	ts, ok := parseUnix(tsText)
	if !ok {
		return fmt.Errorf("%s: %s is not a unix time in seconds: %w", scheme, HeaderWebhookTimestamp, ErrMalformed)
	}

	st := v.get()
	defer v.put(st)
	rest, entries := sigs, 0
	for {
		entry, after, more := strings.Cut(rest, " ")
		if entries++; entries > maxEntries {
			return fmt.Errorf("%s: more than %d signatures: %w", scheme, maxEntries, ErrMalformed)
		}
		version, sig, ok := strings.Cut(entry, ",")
		if !ok {
			return fmt.Errorf("%s: signature %d is not version,signature: %w", scheme, entries, ErrMalformed)
		}
		switch version {
		case "v1":
			if !decodeBase64(st, st.hs[st.nh][:sha256.Size], sig) {
				return fmt.Errorf("%s: v1 signature %d is not base64 of 32 bytes: %w", scheme, entries, ErrMalformed)
			}
			st.nh++
		case "v1a":
			if !decodeBase64(st, st.es[st.ne][:], sig) {
				return fmt.Errorf("%s: v1a signature %d is not base64 of 64 bytes: %w", scheme, entries, ErrMalformed)
			}
			st.ne++
		}
		if !more {
			break
		}
		rest = after
	}
	if st.nh+st.ne == 0 {
		return fmt.Errorf("%s: no v1 or v1a signature: %w", scheme, ErrNoSignature)
	}

	matched := false
	if st.nh > 0 && len(st.macs) > 0 {
		st.pre = append(append(append(append(st.pre[:0], id...), '.'), tsText...), '.')
		matched = v.matchMAC(st, body)
	}
	if !matched && st.ne > 0 && len(v.keys.pubs) > 0 {
		// ed25519 needs the message in one piece.
		st.msg = append(append(append(append(append(st.msg[:0], id...), '.'), tsText...), '.'), body...)
	ed:
		for _, pub := range v.keys.pubs {
			for i := range st.ne {
				if ed25519.Verify(pub, st.msg, st.es[i][:]) {
					matched = true
					break ed
				}
			}
		}
	}
	if !matched {
		return fmt.Errorf("%s: %w", scheme, ErrMismatch)
	}
	return v.checkTime(scheme, ts, now)
}

// parseStandardKey decodes one Standard Webhooks key: whsec_ (or bare
// base64) gives an HMAC key, whpk_ a public key, whsk_ a private key.
// Errors never include the key.
func parseStandardKey(s string) (sym []byte, pub ed25519.PublicKey, priv ed25519.PrivateKey, err error) {
	switch {
	case s == "":
		return nil, nil, nil, errors.New("empty")
	case strings.HasPrefix(s, prefixPublicKey):
		b, ok := decodeKey(s[len(prefixPublicKey):])
		if !ok || len(b) != ed25519.PublicKeySize {
			return nil, nil, nil, errors.New("whpk_ key is not base64 of a 32-byte ed25519 public key")
		}
		return nil, ed25519.PublicKey(b), nil, nil
	case strings.HasPrefix(s, prefixPrivateKey):
		b, ok := decodeKey(s[len(prefixPrivateKey):])
		switch {
		case ok && len(b) == ed25519.SeedSize:
			priv = ed25519.NewKeyFromSeed(b)
		case ok && len(b) == ed25519.PrivateKeySize:
			priv = ed25519.NewKeyFromSeed(b[:ed25519.SeedSize])
			if !bytes.Equal(priv, b) {
				return nil, nil, nil, errors.New("whsk_ key's public half does not match its seed")
			}
		default:
			return nil, nil, nil, errors.New("whsk_ key is not base64 of a 32-byte ed25519 seed or 64-byte private key")
		}
		return nil, priv.Public().(ed25519.PublicKey), priv, nil
	default:
		b, ok := decodeKey(strings.TrimPrefix(s, prefixSecret))
		if !ok || len(b) == 0 {
			return nil, nil, nil, errors.New("whsec_ secret is not non-empty base64")
		}
		return b, nil, nil, nil
	}
}

// decodeKey decodes standard base64, padded or not.
func decodeKey(s string) ([]byte, bool) {
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b, true
	}
	b, err := base64.RawStdEncoding.DecodeString(s)
	return b, err == nil
}

// StandardSigner signs Standard Webhooks messages with one pre-decoded key:
// a whsec_ secret gives "v1,…" HMAC-SHA256 signatures, a whsk_ private key
// "v1a,…" ed25519 ones. It is safe for concurrent use. The zero value is not
// usable; build one with NewStandardSigner or NewStandardSignerEd25519.
type StandardSigner struct {
	key  []byte
	priv ed25519.PrivateKey
}

// NewStandardSigner decodes secret: "whsec_<base64>" (or bare base64) for v1,
// "whsk_<base64>" for v1a. A whpk_ public key cannot sign.
func NewStandardSigner(secret string) (*StandardSigner, error) {
	sym, _, priv, err := parseStandardKey(secret)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%w: standard signing secret: %w", ErrInvalidConfig, err)
	case sym == nil && priv == nil:
		return nil, fmt.Errorf("%w: standard signing secret: a whpk_ public key cannot sign", ErrInvalidConfig)
	}
	return &StandardSigner{key: sym, priv: priv}, nil
}

// NewStandardSignerEd25519 returns a v1a signer for a raw ed25519 private key,
// which must be ed25519.PrivateKeySize bytes (Sign panics otherwise, as
// ed25519.Sign does).
func NewStandardSignerEd25519(key ed25519.PrivateKey) *StandardSigner {
	return &StandardSigner{priv: key}
}

// Sign returns the webhook-signature entry for msgID, ts (in whole seconds)
// and body: "v1,<base64>" or "v1a,<base64>". msgID must not contain '.'
// (Verify rejects such ids).
func (s *StandardSigner) Sign(msgID string, ts time.Time, body []byte) string {
	var pre []byte
	pre = append(append(append(append(pre, msgID...), '.'), strconv.FormatInt(ts.Unix(), 10)...), '.')
	if s.priv != nil {
		sig := ed25519.Sign(s.priv, append(pre, body...))
		return "v1a," + base64.StdEncoding.EncodeToString(sig)
	}
	m := hmac.New(sha256.New, s.key)
	m.Write(pre)
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// SignStandard signs one message with secret, a whsec_ secret (v1) or a
// whsk_ private key (v1a); see StandardSigner. To sign many messages with
// one key, build a StandardSigner once instead.
func SignStandard(secret, msgID string, ts time.Time, body []byte) (string, error) {
	s, err := NewStandardSigner(secret)
	if err != nil {
		return "", err
	}
	return s.Sign(msgID, ts, body), nil
}

// NewStandardKeyPair generates an ed25519 key pair for Standard Webhooks v1a,
// reading randomness from rand (crypto/rand.Reader when nil), and returns it
// serialized: "whsk_<base64 seed>" to sign, "whpk_<base64>" to verify.
func NewStandardKeyPair(rand io.Reader) (privateKey, publicKey string, err error) {
	pub, priv, err := ed25519.GenerateKey(rand)
	if err != nil {
		return "", "", fmt.Errorf("generate ed25519 key: %w", err)
	}
	return prefixPrivateKey + base64.StdEncoding.EncodeToString(priv.Seed()),
		prefixPublicKey + base64.StdEncoding.EncodeToString(pub), nil
}
