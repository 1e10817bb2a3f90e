package webhook_test

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fender-dev/fender/webhook"
)

// The fuzz targets feed arbitrary header values and bodies to a verifier and
// check that it never panics, that every failure carries a known Reason, and
// that it never accepts a request unless the header holds the signature a
// reference signer computes for the same (id,) timestamp and body: an
// accepted forgery fails the target.

// checkOutcome enforces the properties common to every scheme. It reports
// whether Verify accepted.
func checkOutcome(t *testing.T, v webhook.Verifier, h http.Header, body []byte, at time.Time) bool {
	t.Helper()
	err := v.Verify(h, body, at)
	if err != nil {
		if r := webhook.Reason(err); r == "error" || r == "invalid_config" {
			t.Fatalf("Verify returned an unclassified error: %v", err)
		}
		return false
	}
	// Accepting is tied to the body: any change must be refused.
	if v.Verify(h, append(bytes.Clone(body), 'x'), at) == nil {
		t.Fatalf("Verify accepted the same headers with a different body")
	}
	return true
}

// tsOf parses a timestamp the way a strict sender writes it, failing the
// target when an accepted one is not canonical or not within tolerance.
func tsOf(t *testing.T, s string, at time.Time) time.Time {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || strconv.FormatInt(n, 10) != s {
		t.Fatalf("accepted a non-canonical timestamp %q", s)
	}
	ts := time.Unix(n, 0)
	if d := at.Sub(ts); d > webhook.DefaultTolerance || d < -webhook.DefaultTolerance {
		t.Fatalf("accepted timestamp %q outside tolerance of %d", s, at.Unix())
	}
	return ts
}

func FuzzStandardHeader(f *testing.F) {
	at := time.Unix(stdTS, 0)
	ts := strconv.FormatInt(stdTS, 10)
	f.Add(stdID, ts, stdSig, []byte(stdBody))
	f.Add(stdID, ts, edSig, []byte(stdBody))
	f.Add(stdID, ts, "v1,"+b64(32)+" "+stdSig+" "+edSig, []byte(stdBody))
	f.Add(stdID, ts, "v2,x v1a,"+b64(64), []byte(stdBody))
	f.Add("msg.1", "0"+ts, "v1,", []byte{})
	f.Add("", "-1", "v1 v1,,", []byte("."))
	v := mustVerifier(f, webhook.Config{Scheme: "standard", Secrets: []string{whsecB, stdSecret, edPublic}})
	f.Fuzz(func(t *testing.T, id, tsText, sig string, body []byte) {
		h := http.Header{}
		h.Set(webhook.HeaderWebhookID, id)
		h.Set(webhook.HeaderWebhookTimestamp, tsText)
		h.Set(webhook.HeaderWebhookSignature, sig)
		if !checkOutcome(t, v, h, body, at) {
			return
		}
		// What net/http stores (Set trims nothing, but keep what was sent).
		id, tsText, sig = h.Get(webhook.HeaderWebhookID), h.Get(webhook.HeaderWebhookTimestamp), h.Get(webhook.HeaderWebhookSignature)
		if strings.Contains(id, ".") {
			t.Fatalf("accepted id %q containing '.'", id)
		}
		signed := tsOf(t, tsText, at)
		v1, _ := webhook.SignStandard(stdSecret, id, signed, body)
		v1a, _ := webhook.SignStandard(edPrivate, id, signed, body)
		for entry := range strings.SplitSeq(sig, " ") {
			if entry == v1 || entry == v1a {
				return
			}
		}
		t.Fatalf("accepted forged signature %q for id %q ts %q body %q", sig, id, tsText, body)
	})
}

func FuzzStripeHeader(f *testing.F) {
	const secret = "whsec_fuzz"
	at := time.Unix(1_700_000_000, 0)
	body := []byte(`{"id":"evt_1"}`)
	good := webhook.SignStripe(secret, at, body)
	f.Add(good, body)
	f.Add(good+",v0=00,v1="+strings.Repeat("0", 64), body)
	f.Add("t=1700000000,v1="+strings.Repeat("AB", 32), body)
	f.Add("t=,v1=,", []byte{})
	f.Add("v1=ab,t=1,t=2", []byte("x"))
	v := mustVerifier(f, webhook.Config{Scheme: "stripe", Secrets: []string{"whsec_other", secret}})
	f.Fuzz(func(t *testing.T, header string, body []byte) {
		h := http.Header{}
		h.Set(webhook.HeaderStripeSignature, header)
		if !checkOutcome(t, v, h, body, at) {
			return
		}
		header = h.Get(webhook.HeaderStripeSignature)
		var tsText string
		for el := range strings.SplitSeq(header, ",") {
			if after, ok := strings.CutPrefix(el, "t="); ok {
				tsText = after
			}
		}
		_, want, _ := strings.Cut(webhook.SignStripe(secret, tsOf(t, tsText, at), body), ",")
		for el := range strings.SplitSeq(header, ",") {
			if strings.ToLower(el) == want {
				return
			}
		}
		t.Fatalf("accepted forged Stripe-Signature %q for body %q", header, body)
	})
}

func FuzzSlackHeader(f *testing.F) {
	const secret = "8f742231b10e8888abcd99yyyzzz85a5"
	at := time.Unix(1531420618, 0)
	body := []byte("token=x&command=%2Fdeploy")
	f.Add(webhook.SignSlack(secret, at, body), "1531420618", body)
	f.Add("v0="+strings.Repeat("0", 64), "1531420618", body)
	f.Add("v1=", "01531420618", []byte{})
	v := mustVerifier(f, webhook.Config{Scheme: "slack", Secrets: []string{secret}})
	f.Fuzz(func(t *testing.T, sig, tsText string, body []byte) {
		h := http.Header{}
		h.Set(webhook.HeaderSlackSignature, sig)
		h.Set(webhook.HeaderSlackTimestamp, tsText)
		if !checkOutcome(t, v, h, body, at) {
			return
		}
		sig, tsText = h.Get(webhook.HeaderSlackSignature), h.Get(webhook.HeaderSlackTimestamp)
		if strings.ToLower(sig) != webhook.SignSlack(secret, tsOf(t, tsText, at), body) {
			t.Fatalf("accepted forged X-Slack-Signature %q for ts %q body %q", sig, tsText, body)
		}
	})
}

// FuzzBodyHeader covers the schemes that sign the body alone: github,
// shopify, and hmac (sha512, base64, with a prefix).
func FuzzBodyHeader(f *testing.F) {
	const secret = "body-secret"
	hmacCfg := webhook.Config{Scheme: "hmac", Secrets: []string{secret}, Header: "X-Signature", Prefix: "sha512=", Encoding: "base64", Algorithm: "sha512"}
	type target struct {
		v      webhook.Verifier
		header string
		want   func(body []byte) string
		fold   bool // hex: case-insensitive
	}
	targets := []target{
		{mustVerifier(f, webhook.Config{Scheme: "github", Secrets: []string{secret}}), webhook.HeaderGitHubSignature,
			func(b []byte) string { return webhook.SignGitHub(secret, b) }, true},
		{mustVerifier(f, webhook.Config{Scheme: "shopify", Secrets: []string{secret}}), webhook.HeaderShopifySignature,
			func(b []byte) string { return webhook.SignShopify(secret, b) }, false},
		{mustVerifier(f, hmacCfg), "X-Signature",
			func(b []byte) string { s, _ := webhook.SignHMAC(hmacCfg, b); return s }, false},
	}
	body := []byte("Hello, World!")
	for i, tg := range targets {
		f.Add(uint8(i), tg.want(body), body)
		f.Add(uint8(i), strings.ToUpper(tg.want(body)), body)
	}
	f.Add(uint8(0), "sha256=", []byte{})
	f.Add(uint8(2), "sha512=====", []byte{})
	f.Fuzz(func(t *testing.T, which uint8, value string, body []byte) {
		tg := targets[int(which)%len(targets)]
		h := http.Header{}
		h.Set(tg.header, value)
		if !checkOutcome(t, tg.v, h, body, time.Now()) {
			return
		}
		got, want := h.Get(tg.header), tg.want(body)
		if tg.fold {
			got = "sha256=" + strings.ToLower(strings.TrimPrefix(got, "sha256="))
		}
		if got != want {
			t.Fatalf("accepted forged %s %q for body %q", tg.header, value, body)
		}
	})
}
