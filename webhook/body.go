package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
)

// Header names of the schemes that sign the body alone, in canonical form.
const (
	HeaderGitHubSignature  = "X-Hub-Signature-256"
	HeaderShopifySignature = "X-Shopify-Hmac-Sha256"
)

// verifyBody checks the schemes that sign the body alone, with no timestamp:
// github (sha256=<hex>), shopify (<base64>) and hmac (as configured).
func (v *verifier) verifyBody(h http.Header, body []byte) error {
	val, err := headerValue(h, v.scheme, v.keys.header)
	if err != nil {
		return err
	}
	sig, ok := strings.CutPrefix(val, v.keys.prefix)
	if !ok {
		return fmt.Errorf("%s: %s does not start with the expected prefix: %w", v.scheme, v.keys.header, ErrMalformed)
	}
	st := v.get()
	defer v.put(st)
	dst := st.hs[0][:v.macSize]
	if v.keys.base64 {
		ok = decodeBase64(st, dst, sig)
	} else {
		ok = decodeHex(st, dst, sig)
	}
	if !ok {
		return fmt.Errorf("%s: %s is not a %d-byte signature in the expected encoding: %w", v.scheme, v.keys.header, v.macSize, ErrMalformed)
	}
	st.nh = 1
	st.pre = st.pre[:0]
	if !v.matchMAC(st, body) {
		return fmt.Errorf("%s: %w", v.scheme, ErrMismatch)
	}
	return nil
}

// SignGitHub returns the X-Hub-Signature-256 value for body: "sha256=<hex>".
func SignGitHub(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// SignShopify returns the X-Shopify-Hmac-Sha256 value for body: base64.
func SignShopify(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// SignHMAC returns the value of c.Header for body under scheme hmac, signed
// with c.Secrets[0]: c.Prefix followed by the encoded MAC.
func SignHMAC(c Config, body []byte) (string, error) {
	k, err := c.compile()
	switch {
	case err != nil:
		return "", err
	case c.Scheme != SchemeHMAC:
		return "", fmt.Errorf("%w: SignHMAC needs scheme hmac, not %q", ErrInvalidConfig, c.Scheme)
	}
	m := hmac.New(k.newHash, k.hmac[0])
	m.Write(body)
	if k.base64 {
		return k.prefix + base64.StdEncoding.EncodeToString(m.Sum(nil)), nil
	}
	return k.prefix + hex.EncodeToString(m.Sum(nil)), nil
}
