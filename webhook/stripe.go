package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// HeaderStripeSignature is Stripe's signature header.
const HeaderStripeSignature = "Stripe-Signature"

// verifyStripe checks "t=<unix>,v1=<hex>[,v1=<hex>…]" over "t.body". Other
// schemes in the header (v0, test schemes) are ignored.
func (v *verifier) verifyStripe(h http.Header, body []byte, now time.Time) error {
	const scheme = SchemeStripe
	val, err := headerValue(h, scheme, HeaderStripeSignature)
	if err != nil {
		return err
	}
	st := v.get()
	defer v.put(st)
	var tsText string
	haveT, entries, rest := false, 0, val
	for {
		pair, after, more := strings.Cut(rest, ",")
		key, value, ok := strings.Cut(pair, "=")
		if !ok {
			return fmt.Errorf("%s: element is not key=value: %w", scheme, ErrMalformed)
		}
		switch key {
		case "t":
			if haveT {
				return fmt.Errorf("%s: t= repeated: %w", scheme, ErrMalformed)
			}
			tsText, haveT = value, true
		default:
			if entries++; entries > maxEntries {
				return fmt.Errorf("%s: more than %d signatures: %w", scheme, maxEntries, ErrMalformed)
			}
			if key == "v1" {
				if !decodeHex(st, st.hs[st.nh][:sha256.Size], value) {
					return fmt.Errorf("%s: v1 signature %d is not 64 hex digits: %w", scheme, entries, ErrMalformed)
				}
				st.nh++
			}
		}
		if !more {
			break
		}
		rest = after
	}
	if !haveT {
		return fmt.Errorf("%s: no t= timestamp: %w", scheme, ErrMalformed)
	}
	ts, ok := parseUnix(tsText)
	if !ok {
		return fmt.Errorf("%s: t= is not a unix time in seconds: %w", scheme, ErrMalformed)
	}
	if st.nh == 0 {
		return fmt.Errorf("%s: no v1 signature: %w", scheme, ErrNoSignature)
	}
	st.pre = append(append(st.pre[:0], tsText...), '.')
	if !v.matchMAC(st, body) {
		return fmt.Errorf("%s: %w", scheme, ErrMismatch)
	}
	return v.checkTime(scheme, ts, now)
}

// SignStripe returns the Stripe-Signature header value for body signed with
// secret (used as is, whsec_ included) at ts: "t=<unix>,v1=<hex>".
func SignStripe(secret string, ts time.Time, body []byte) string {
	t := strconv.FormatInt(ts.Unix(), 10)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(t))
	m.Write([]byte{'.'})
	m.Write(body)
	return "t=" + t + ",v1=" + hex.EncodeToString(m.Sum(nil))
}
