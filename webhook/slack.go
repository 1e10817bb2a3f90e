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

// Slack's header names, in canonical form.
const (
	HeaderSlackSignature = "X-Slack-Signature"
	HeaderSlackTimestamp = "X-Slack-Request-Timestamp"
)

// verifySlack checks "v0=<hex>" over "v0:timestamp:body".
func (v *verifier) verifySlack(h http.Header, body []byte, now time.Time) error {
	const scheme = SchemeSlack
	sig, err := headerValue(h, scheme, HeaderSlackSignature)
	if err != nil {
		return err
	}
	tsText, err := headerValue(h, scheme, HeaderSlackTimestamp)
	if err != nil {
		return err
	}
	ts, ok := parseUnix(tsText)
	if !ok {
		return fmt.Errorf("%s: %s is not a unix time in seconds: %w", scheme, HeaderSlackTimestamp, ErrMalformed)
	}
	hexSig, ok := strings.CutPrefix(sig, "v0=")
	if !ok {
		return fmt.Errorf("%s: signature does not start with v0=: %w", scheme, ErrMalformed)
	}
	st := v.get()
	defer v.put(st)
	if !decodeHex(st, st.hs[0][:sha256.Size], hexSig) {
		return fmt.Errorf("%s: signature is not 64 hex digits: %w", scheme, ErrMalformed)
	}
	st.nh = 1
	st.pre = append(append(append(st.pre[:0], "v0:"...), tsText...), ':')
	if !v.matchMAC(st, body) {
		return fmt.Errorf("%s: %w", scheme, ErrMismatch)
	}
	return v.checkTime(scheme, ts, now)
}

// SignSlack returns the X-Slack-Signature value for body signed with secret
// at ts: "v0=<hex>". Send ts in X-Slack-Request-Timestamp as unix seconds.
func SignSlack(secret string, ts time.Time, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("v0:" + strconv.FormatInt(ts.Unix(), 10) + ":"))
	m.Write(body)
	return "v0=" + hex.EncodeToString(m.Sum(nil))
}
