package webhook

import (
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"strings"
	"time"
)

// Scheme names accepted in Config.Scheme.
const (
	SchemeStandard = "standard" // Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature
	SchemeStripe   = "stripe"   // Stripe-Signature: t=…,v1=…
	SchemeGitHub   = "github"   // X-Hub-Signature-256: sha256=…
	SchemeShopify  = "shopify"  // X-Shopify-Hmac-Sha256: base64
	SchemeSlack    = "slack"    // X-Slack-Signature: v0=…, X-Slack-Request-Timestamp
	SchemeHMAC     = "hmac"     // configurable header, prefix, encoding and algorithm over the body
	SchemeNone     = "none"     // no verification; requires UnsafeUnverified
)

// DefaultTolerance is how far a timestamped signature may be from now, in
// either direction, when Config.Tolerance is zero.
const DefaultTolerance = 5 * time.Minute

const (
	maxHeaderLen = 8 << 10 // longest accepted signature, id or timestamp header value
	maxEntries   = 10      // most signature entries accepted in one header
)

// Config describes how one webhook source signs its requests. The zero
// Config is invalid: Scheme is required, and every scheme but none needs at
// least one secret.
type Config struct {
	// Scheme is one of standard, stripe, github, shopify, slack, hmac, none.
	Scheme string
	// Secrets are tried in turn; any one matching is enough, so during a
	// rotation list the new and the old secret. For standard, a secret is a
	// whsec_ key (or bare base64, as the reference library allows) for v1, or a
	// whpk_ public key for v1a (a whsk_ private key is accepted too, and only
	// its public half is kept). For the other schemes the secret string's bytes
	// are the HMAC key, exactly as the provider shows it (Stripe's whsec_
	// included).
	Secrets []string
	// Tolerance bounds the distance between a signature's timestamp and now,
	// both ways, for standard, stripe and slack. Zero means DefaultTolerance.
	Tolerance time.Duration

	// Header names the header carrying the signature (scheme hmac only).
	Header string
	// Prefix is stripped from the header value before decoding, e.g.
	// "sha256=" (scheme hmac only; may be empty).
	Prefix string
	// Encoding of the signature: hex (the default) or base64 (scheme hmac only).
	Encoding string
	// Algorithm of the HMAC: sha256 (the default) or sha512 (scheme hmac only).
	Algorithm string

	// UnsafeUnverified must be set for scheme none, which accepts every
	// request unchecked.
	UnsafeUnverified bool
}

// String describes c with its secrets masked, so that a Config can be logged.
func (c Config) String() string {
	masked := make([]string, len(c.Secrets))
	for i := range masked {
		masked[i] = "***"
	}
	return fmt.Sprintf("{Scheme:%s Secrets:[%s] Tolerance:%s Header:%s Prefix:%s Encoding:%s Algorithm:%s UnsafeUnverified:%t}",
		c.Scheme, strings.Join(masked, " "), c.Tolerance, c.Header, c.Prefix, c.Encoding, c.Algorithm, c.UnsafeUnverified)
}

// GoString is String, so that %#v does not print secrets either.
func (c Config) GoString() string { return "webhook.Config" + c.String() }

// Validate reports every problem with c at once, wrapped in
// ErrInvalidConfig. Messages name the offending field or secret index, never
// a secret's content.
func (c Config) Validate() error {
	_, err := c.compile()
	return err
}

// keys is what compile derives from a Config.
type keys struct {
	hmac    [][]byte            // HMAC keys
	pubs    []ed25519.PublicKey // standard v1a public keys
	newHash func() hash.Hash
	header  string // canonical signature header (hmac, github, shopify)
	prefix  string
	base64  bool
}

func (c Config) compile() (keys, error) {
	var k keys
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if c.Tolerance < 0 {
		bad("tolerance must not be negative")
	}
	if c.Scheme != SchemeHMAC && (c.Header != "" || c.Prefix != "" || c.Encoding != "" || c.Algorithm != "") {
		bad("header, prefix, encoding and algorithm apply to scheme hmac only")
	}
	if c.Scheme != SchemeNone && c.UnsafeUnverified {
		bad("unsafe_unverified applies to scheme none only")
	}
	k.newHash = sha256.New

	switch c.Scheme {
	case "":
		bad("scheme is required")
	case SchemeNone:
		if !c.UnsafeUnverified {
			bad("scheme none accepts unsigned requests and requires unsafe_unverified")
		}
	case SchemeStandard:
		if len(c.Secrets) == 0 {
			bad("at least one secret is required")
		}
		for i, s := range c.Secrets {
			sym, pub, _, err := parseStandardKey(s)
			switch {
			case err != nil:
				bad("secrets[%d]: %v", i, err)
			case pub != nil:
				k.pubs = append(k.pubs, pub)
			default:
				k.hmac = append(k.hmac, sym)
			}
		}
	case SchemeStripe, SchemeSlack, SchemeGitHub, SchemeShopify, SchemeHMAC:
		if len(c.Secrets) == 0 {
			bad("at least one secret is required")
		}
		for i, s := range c.Secrets {
			if s == "" {
				bad("secrets[%d] is empty", i)
				continue
			}
			k.hmac = append(k.hmac, []byte(s))
		}
		switch c.Scheme {
		case SchemeGitHub:
			k.header, k.prefix = "X-Hub-Signature-256", "sha256="
		case SchemeShopify:
			k.header, k.base64 = "X-Shopify-Hmac-Sha256", true
		case SchemeHMAC:
			k.prefix = c.Prefix
			if c.Header == "" || strings.ContainsAny(c.Header, " \t\r\n:") {
				bad("scheme hmac needs a header name")
			}
			k.header = http.CanonicalHeaderKey(c.Header)
			switch c.Encoding {
			case "", "hex":
			case "base64":
				k.base64 = true
			default:
				bad("encoding %q: want hex or base64", c.Encoding)
			}
			switch c.Algorithm {
			case "", "sha256":
			case "sha512":
				k.newHash = sha512.New
			default:
				bad("algorithm %q: want sha256 or sha512", c.Algorithm)
			}
		}
	default:
		bad("scheme %q: want standard, stripe, github, shopify, slack, hmac or none", c.Scheme)
	}
	if len(errs) > 0 {
		return keys{}, fmt.Errorf("%w: %w", ErrInvalidConfig, errors.Join(errs...))
	}
	return k, nil
}
