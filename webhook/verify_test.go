package webhook_test

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fender-dev/fender/webhook"
)

var (
	now      = time.Unix(1_700_000_000, 0)
	testBody = []byte(`{"id":"evt_1","amount":42}`)
)

const (
	whsecA = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	whsecB = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
)

// verifyCase signs testBody at now with sign, applies edit to the headers,
// then verifies (the body tampered if asked) at now+at with verify (sign when
// zero), expecting want (nil for success).
type verifyCase struct {
	name   string
	verify *webhook.Config
	edit   func(h http.Header)
	tamper bool
	at     time.Duration
	want   error
}

func runCases(t *testing.T, sign webhook.Config, cases []verifyCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if err := webhook.Sign(sign, h, testBody, now); err != nil {
				t.Fatalf("Sign: %v", err)
			}
			if tc.edit != nil {
				tc.edit(h)
			}
			c := sign
			if tc.verify != nil {
				c = *tc.verify
			}
			v := mustVerifier(t, c)
			body := testBody
			if tc.tamper {
				body = append([]byte(nil), testBody...)
				body[len(body)-2] = '3'
			}
			err := v.Verify(h, body, now.Add(tc.at))
			switch {
			case tc.want == nil && err != nil:
				t.Fatalf("Verify = %v, want success", err)
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			case tc.want != nil && webhook.Reason(err) != webhook.Reason(tc.want):
				t.Fatalf("Reason = %q, want %q", webhook.Reason(err), webhook.Reason(tc.want))
			}
			for _, s := range c.Secrets {
				if err != nil && strings.Contains(err.Error(), s) {
					t.Fatalf("error %q leaks a secret", err)
				}
			}
		})
	}
}

func set(key, value string) func(http.Header) {
	return func(h http.Header) { h.Set(key, value) }
}

func del(key string) func(http.Header) {
	return func(h http.Header) { h.Del(key) }
}

func add(key, value string) func(http.Header) {
	return func(h http.Header) { h.Add(key, value) }
}

// edit rewrites one header's value with f.
func edit(key string, f func(string) string) func(http.Header) {
	return func(h http.Header) { h.Set(key, f(h.Get(key))) }
}

func cfg(scheme string, secrets ...string) *webhook.Config {
	return &webhook.Config{Scheme: scheme, Secrets: secrets}
}

// repeat joins n copies of s with sep.
func repeat(s, sep string, n int) string {
	return strings.TrimSuffix(strings.Repeat(s+sep, n), sep)
}

func b64(n int) string { return base64.StdEncoding.EncodeToString(make([]byte, n)) }

func TestStandard(t *testing.T) {
	edPriv, edPub, err := webhook.NewStandardKeyPair(nil)
	if err != nil {
		t.Fatal(err)
	}
	_, otherPub, _ := webhook.NewStandardKeyPair(nil)
	v1aSig, _ := webhook.SignStandard(edPriv, "msg_1", now, testBody)
	v1Sig, _ := webhook.SignStandard(whsecA, "msg_1", now, testBody)
	const sig = webhook.HeaderWebhookSignature
	runCases(t, *cfg("standard", whsecA), []verifyCase{
		{name: "valid"},
		{name: "valid at edge of tolerance", at: webhook.DefaultTolerance},
		{name: "valid at edge of future tolerance", at: -webhook.DefaultTolerance},
		{name: "tampered body", tamper: true, want: webhook.ErrMismatch},
		{name: "wrong secret", verify: cfg("standard", whsecB), want: webhook.ErrMismatch},
		{name: "rotated: second secret matches", verify: cfg("standard", whsecB, whsecA)},
		{name: "rotated: second entry matches", edit: edit(sig, func(s string) string { return "v1," + b64(32) + " " + s })},
		{name: "unknown versions ignored", edit: edit(sig, func(s string) string { return "v2,abc v0,x " + s })},
		{name: "bare base64 secret", verify: cfg("standard", strings.TrimPrefix(whsecA, "whsec_"))},
		{name: "stale", at: webhook.DefaultTolerance + time.Second, want: webhook.ErrTimestampTooOld},
		{name: "future", at: -webhook.DefaultTolerance - time.Second, want: webhook.ErrTimestampTooNew},
		{name: "stale under custom tolerance", at: 2 * time.Minute, verify: &webhook.Config{Scheme: "standard", Secrets: []string{whsecA}, Tolerance: time.Minute}, want: webhook.ErrTimestampTooOld},
		{name: "stale and forged is a mismatch", at: time.Hour, tamper: true, want: webhook.ErrMismatch},
		{name: "timestamp changed", edit: set(webhook.HeaderWebhookTimestamp, fmt.Sprint(now.Unix()+1)), want: webhook.ErrMismatch},
		{name: "id changed", edit: set(webhook.HeaderWebhookID, "msg_other"), want: webhook.ErrMismatch},
		{name: "missing id", edit: del(webhook.HeaderWebhookID), want: webhook.ErrNoSignature},
		{name: "missing timestamp", edit: del(webhook.HeaderWebhookTimestamp), want: webhook.ErrNoSignature},
		{name: "missing signature", edit: del(sig), want: webhook.ErrNoSignature},
		{name: "empty signature", edit: set(sig, ""), want: webhook.ErrNoSignature},
		{name: "only unknown versions", edit: set(sig, "v2,"+b64(32)), want: webhook.ErrNoSignature},
		{name: "bad base64", edit: set(sig, "v1,!!!!"+b64(32)[4:]), want: webhook.ErrMalformed},
		{name: "unpadded base64", edit: edit(sig, func(s string) string { return strings.TrimRight(s, "=") }), want: webhook.ErrMalformed},
		{name: "short signature", edit: set(sig, "v1,"+b64(31)), want: webhook.ErrMalformed},
		// 44 and 88 characters without padding decode to 33 and 66 bytes:
		// found by FuzzStandardHeader, this once overran the decode buffer.
		{name: "v1 full length without padding", edit: set(sig, "v1,"+strings.Repeat("0", 44)), want: webhook.ErrMalformed},
		{name: "v1a full length without padding", edit: set(sig, "v1a,"+strings.Repeat("0", 88)), want: webhook.ErrMalformed},
		{name: "hex instead of base64", edit: set(sig, "v1,"+hex.EncodeToString(make([]byte, 32))), want: webhook.ErrMalformed},
		{name: "no comma", edit: set(sig, "v1"), want: webhook.ErrMalformed},
		{name: "empty entry", edit: edit(sig, func(s string) string { return s + "  " + s }), want: webhook.ErrMalformed},
		{name: "eleven entries", edit: edit(sig, func(s string) string { return repeat(s, " ", 11) }), want: webhook.ErrMalformed},
		{name: "ten entries", edit: edit(sig, func(s string) string { return repeat(s, " ", 10) })},
		{name: "huge header", edit: edit(sig, func(s string) string { return s + " v9," + strings.Repeat("A", 8<<10) }), want: webhook.ErrMalformed},
		{name: "repeated header", edit: add(sig, "v1,"+b64(32)), want: webhook.ErrMalformed},
		{name: "timestamp not a number", edit: set(webhook.HeaderWebhookTimestamp, "soon"), want: webhook.ErrMalformed},
		{name: "timestamp with leading zero", edit: edit(webhook.HeaderWebhookTimestamp, func(s string) string { return "0" + s }), want: webhook.ErrMalformed},
		{name: "timestamp negative", edit: set(webhook.HeaderWebhookTimestamp, "-1"), want: webhook.ErrMalformed},
		{name: "timestamp in milliseconds", edit: set(webhook.HeaderWebhookTimestamp, fmt.Sprint(now.UnixMilli())), want: webhook.ErrMismatch},
		{name: "id with a dot", edit: set(webhook.HeaderWebhookID, "msg.1"), want: webhook.ErrMalformed},
		{name: "v1a valid", edit: func(h http.Header) { h.Set(webhook.HeaderWebhookID, "msg_1"); h.Set(sig, v1aSig) }, verify: cfg("standard", edPub)},
		{name: "v1a with rotated keys", edit: func(h http.Header) { h.Set(webhook.HeaderWebhookID, "msg_1"); h.Set(sig, v1aSig) }, verify: cfg("standard", whsecA, otherPub, edPub)},
		{name: "v1a beside a wrong v1", edit: func(h http.Header) { h.Set(webhook.HeaderWebhookID, "msg_1"); h.Set(sig, "v1,"+b64(32)+" "+v1aSig) }, verify: cfg("standard", whsecA, edPub)},
		{name: "v1a with wrong key", edit: func(h http.Header) { h.Set(webhook.HeaderWebhookID, "msg_1"); h.Set(sig, v1aSig) }, verify: cfg("standard", otherPub), want: webhook.ErrMismatch},
		{name: "v1a but only a whsec configured", edit: func(h http.Header) { h.Set(webhook.HeaderWebhookID, "msg_1"); h.Set(sig, v1aSig) }, want: webhook.ErrMismatch},
		{name: "v1 but only a whpk configured", edit: func(h http.Header) { h.Set(webhook.HeaderWebhookID, "msg_1"); h.Set(sig, v1Sig) }, verify: cfg("standard", edPub), want: webhook.ErrMismatch},
		{name: "v1a signature labelled v1", edit: func(h http.Header) {
			h.Set(webhook.HeaderWebhookID, "msg_1")
			h.Set(sig, "v1,"+strings.TrimPrefix(v1aSig, "v1a,"))
		}, verify: cfg("standard", edPub), want: webhook.ErrMalformed},
		{name: "v1a tampered", edit: func(h http.Header) { h.Set(webhook.HeaderWebhookID, "msg_1"); h.Set(sig, v1aSig) }, verify: cfg("standard", edPub), tamper: true, want: webhook.ErrMismatch},
		{name: "v1a stale", edit: func(h http.Header) { h.Set(webhook.HeaderWebhookID, "msg_1"); h.Set(sig, v1aSig) }, verify: cfg("standard", edPub), at: time.Hour, want: webhook.ErrTimestampTooOld},
	})
	// Signing with a private key, verifying with its public key, through Sign.
	runCases(t, *cfg("standard", edPriv), []verifyCase{
		{name: "v1a via Sign", verify: cfg("standard", edPub)},
		{name: "v1a via Sign, whsk in verifier", verify: cfg("standard", edPriv)},
		{name: "v1a via Sign, wrong key", verify: cfg("standard", otherPub), want: webhook.ErrMismatch},
	})
}

func TestStripe(t *testing.T) {
	const sig = webhook.HeaderStripeSignature
	const a, b = "whsec_stripe_a", "whsec_stripe_b"
	other := "v1=" + hex.EncodeToString(make([]byte, 32))
	runCases(t, *cfg("stripe", a), []verifyCase{
		{name: "valid"},
		{name: "tampered body", tamper: true, want: webhook.ErrMismatch},
		{name: "wrong secret", verify: cfg("stripe", b), want: webhook.ErrMismatch},
		{name: "rotated: second secret matches", verify: cfg("stripe", b, a)},
		{name: "rotated: second v1 matches", edit: edit(sig, func(s string) string { t, v1, _ := strings.Cut(s, ","); return t + "," + other + "," + v1 })},
		{name: "v0 and unknown keys ignored", edit: edit(sig, func(s string) string { return s + ",v0=" + strings.Repeat("ab", 32) + ",x=y" })},
		{name: "uppercase hex", edit: edit(sig, func(s string) string {
			t, v1, _ := strings.Cut(s, ",")
			return t + ",v1=" + strings.ToUpper(strings.TrimPrefix(v1, "v1="))
		})},
		{name: "stale", at: webhook.DefaultTolerance + time.Second, want: webhook.ErrTimestampTooOld},
		{name: "future", at: -webhook.DefaultTolerance - time.Second, want: webhook.ErrTimestampTooNew},
		{name: "t changed", edit: edit(sig, func(s string) string { return strings.Replace(s, fmt.Sprint(now.Unix()), fmt.Sprint(now.Unix()-1), 1) }), want: webhook.ErrMismatch},
		{name: "missing header", edit: del(sig), want: webhook.ErrNoSignature},
		{name: "only v0", edit: set(sig, fmt.Sprintf("t=%d,v0=%s", now.Unix(), strings.Repeat("ab", 32))), want: webhook.ErrNoSignature},
		{name: "missing t", edit: edit(sig, func(s string) string { _, v1, _ := strings.Cut(s, ","); return v1 }), want: webhook.ErrMalformed},
		{name: "t repeated", edit: edit(sig, func(s string) string { t, _, _ := strings.Cut(s, ","); return t + "," + s }), want: webhook.ErrMalformed},
		{name: "t not a number", edit: set(sig, "t=now,"+other), want: webhook.ErrMalformed},
		{name: "bad hex", edit: set(sig, fmt.Sprintf("t=%d,v1=%s", now.Unix(), strings.Repeat("zz", 32))), want: webhook.ErrMalformed},
		{name: "short hex", edit: set(sig, fmt.Sprintf("t=%d,v1=%s", now.Unix(), strings.Repeat("ab", 31))), want: webhook.ErrMalformed},
		{name: "empty element", edit: edit(sig, func(s string) string { return strings.Replace(s, ",", ",,", 1) }), want: webhook.ErrMalformed},
		{name: "element without =", edit: edit(sig, func(s string) string { return s + ",v1" }), want: webhook.ErrMalformed},
		{name: "eleven signatures", edit: edit(sig, func(s string) string { return s + strings.Repeat(","+other, 10) }), want: webhook.ErrMalformed},
		{name: "huge header", edit: edit(sig, func(s string) string { return s + ",x=" + strings.Repeat("a", 8<<10) }), want: webhook.ErrMalformed},
		{name: "repeated header", edit: add(sig, "t=1,"+other), want: webhook.ErrMalformed},
	})
}

func TestGitHub(t *testing.T) {
	const sig = webhook.HeaderGitHubSignature
	runCases(t, *cfg("github", "gh-a"), []verifyCase{
		{name: "valid"},
		{name: "valid much later (no timestamp)", at: 24 * time.Hour},
		{name: "tampered body", tamper: true, want: webhook.ErrMismatch},
		{name: "wrong secret", verify: cfg("github", "gh-b"), want: webhook.ErrMismatch},
		{name: "rotated", verify: cfg("github", "gh-b", "gh-a")},
		{name: "missing", edit: del(sig), want: webhook.ErrNoSignature},
		{name: "sha1 prefix", edit: edit(sig, func(s string) string { return "sha1=" + s[len("sha256="):] }), want: webhook.ErrMalformed},
		{name: "no prefix", edit: edit(sig, func(s string) string { return s[len("sha256="):] }), want: webhook.ErrMalformed},
		{name: "bad hex", edit: set(sig, "sha256="+strings.Repeat("g", 64)), want: webhook.ErrMalformed},
		{name: "truncated hex", edit: edit(sig, func(s string) string { return s[:len(s)-2] }), want: webhook.ErrMalformed},
		{name: "huge", edit: set(sig, "sha256="+strings.Repeat("a", 9<<10)), want: webhook.ErrMalformed},
	})
}

func TestShopify(t *testing.T) {
	const sig = webhook.HeaderShopifySignature
	runCases(t, *cfg("shopify", "shp-a"), []verifyCase{
		{name: "valid"},
		{name: "tampered body", tamper: true, want: webhook.ErrMismatch},
		{name: "wrong secret", verify: cfg("shopify", "shp-b"), want: webhook.ErrMismatch},
		{name: "rotated", verify: cfg("shopify", "shp-b", "shp-a")},
		{name: "missing", edit: del(sig), want: webhook.ErrNoSignature},
		{name: "bad base64", edit: set(sig, "*"+b64(32)[1:]), want: webhook.ErrMalformed},
		{name: "hex instead of base64", edit: set(sig, hex.EncodeToString(make([]byte, 32))), want: webhook.ErrMalformed},
		{name: "full length without padding", edit: set(sig, strings.Repeat("0", 44)), want: webhook.ErrMalformed},
		{name: "prefixed", edit: edit(sig, func(s string) string { return "sha256=" + s }), want: webhook.ErrMalformed},
	})
}

func TestSlack(t *testing.T) {
	const sig, ts = webhook.HeaderSlackSignature, webhook.HeaderSlackTimestamp
	runCases(t, *cfg("slack", "slk-a"), []verifyCase{
		{name: "valid"},
		{name: "tampered body", tamper: true, want: webhook.ErrMismatch},
		{name: "wrong secret", verify: cfg("slack", "slk-b"), want: webhook.ErrMismatch},
		{name: "rotated", verify: cfg("slack", "slk-b", "slk-a")},
		{name: "stale", at: webhook.DefaultTolerance + time.Second, want: webhook.ErrTimestampTooOld},
		{name: "future", at: -webhook.DefaultTolerance - time.Second, want: webhook.ErrTimestampTooNew},
		{name: "timestamp changed", edit: set(ts, fmt.Sprint(now.Unix()+1)), want: webhook.ErrMismatch},
		{name: "missing signature", edit: del(sig), want: webhook.ErrNoSignature},
		{name: "missing timestamp", edit: del(ts), want: webhook.ErrNoSignature},
		{name: "timestamp not a number", edit: set(ts, "1e9"), want: webhook.ErrMalformed},
		{name: "wrong version prefix", edit: edit(sig, func(s string) string { return "v1" + s[2:] }), want: webhook.ErrMalformed},
		{name: "bad hex", edit: set(sig, "v0="+strings.Repeat("x", 64)), want: webhook.ErrMalformed},
		{name: "huge", edit: set(sig, "v0="+strings.Repeat("a", 9<<10)), want: webhook.ErrMalformed},
	})
}

func TestHMAC(t *testing.T) {
	sha256hex := webhook.Config{Scheme: "hmac", Secrets: []string{"h-a"}, Header: "x-signature", Prefix: "sha256="}
	sha512b64 := webhook.Config{Scheme: "hmac", Secrets: []string{"h-a"}, Header: "X-Sig", Encoding: "base64", Algorithm: "sha512"}
	rotated := sha256hex
	rotated.Secrets = []string{"h-b", "h-a"}
	wrong := sha256hex
	wrong.Secrets = []string{"h-b"}
	runCases(t, sha256hex, []verifyCase{
		{name: "valid"},
		{name: "tampered body", tamper: true, want: webhook.ErrMismatch},
		{name: "wrong secret", verify: &wrong, want: webhook.ErrMismatch},
		{name: "rotated", verify: &rotated},
		{name: "missing", edit: del("X-Signature"), want: webhook.ErrNoSignature},
		{name: "wrong prefix", edit: edit("X-Signature", func(s string) string { return "sha512=" + s[7:] }), want: webhook.ErrMalformed},
		{name: "read as sha512", verify: &webhook.Config{Scheme: "hmac", Secrets: []string{"h-a"}, Header: "X-Signature", Prefix: "sha256=", Algorithm: "sha512"}, want: webhook.ErrMalformed},
	})
	runCases(t, sha512b64, []verifyCase{
		{name: "sha512 base64 valid"},
		{name: "sha512 base64 tampered", tamper: true, want: webhook.ErrMismatch},
		{name: "sha512 read as hex", verify: &webhook.Config{Scheme: "hmac", Secrets: []string{"h-a"}, Header: "X-Sig", Algorithm: "sha512"}, want: webhook.ErrMalformed},
	})
}

func TestNone(t *testing.T) {
	v := mustVerifier(t, webhook.Config{Scheme: "none", UnsafeUnverified: true})
	if err := v.Verify(http.Header{}, []byte("anything"), now); err != nil {
		t.Fatalf("Verify = %v", err)
	}
	if _, err := webhook.NewVerifier(webhook.Config{Scheme: "none"}); !errors.Is(err, webhook.ErrInvalidConfig) {
		t.Fatalf("NewVerifier(none without unsafe) = %v, want ErrInvalidConfig", err)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    webhook.Config
		want string // a fragment of the error
	}{
		{"zero", webhook.Config{}, "scheme is required"},
		{"unknown scheme", webhook.Config{Scheme: "svix", Secrets: []string{"s"}}, `scheme "svix"`},
		{"none without unsafe", webhook.Config{Scheme: "none"}, "requires unsafe_unverified"},
		{"unsafe on a real scheme", webhook.Config{Scheme: "github", Secrets: []string{"s"}, UnsafeUnverified: true}, "scheme none only"},
		{"no secrets", webhook.Config{Scheme: "stripe"}, "at least one secret"},
		{"empty secret", webhook.Config{Scheme: "github", Secrets: []string{"a", ""}}, "secrets[1] is empty"},
		{"bad whsec", webhook.Config{Scheme: "standard", Secrets: []string{"whsec_not*base64"}}, "secrets[0]: whsec_"},
		{"short whpk", webhook.Config{Scheme: "standard", Secrets: []string{"whpk_" + b64(16)}}, "secrets[0]: whpk_"},
		{"bad whsk", webhook.Config{Scheme: "standard", Secrets: []string{"whsk_" + b64(20)}}, "secrets[0]: whsk_"},
		{"negative tolerance", webhook.Config{Scheme: "slack", Secrets: []string{"s"}, Tolerance: -time.Second}, "tolerance"},
		{"hmac without header", webhook.Config{Scheme: "hmac", Secrets: []string{"s"}}, "header name"},
		{"hmac bad encoding", webhook.Config{Scheme: "hmac", Secrets: []string{"s"}, Header: "X-S", Encoding: "base32"}, "encoding"},
		{"hmac bad algorithm", webhook.Config{Scheme: "hmac", Secrets: []string{"s"}, Header: "X-S", Algorithm: "md5"}, "algorithm"},
		{"hmac fields on github", webhook.Config{Scheme: "github", Secrets: []string{"s"}, Header: "X-S"}, "scheme hmac only"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := webhook.NewVerifier(tc.c)
			if !errors.Is(err, webhook.ErrInvalidConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("NewVerifier = %v, want ErrInvalidConfig containing %q", err, tc.want)
			}
			if webhook.Reason(err) != "invalid_config" {
				t.Fatalf("Reason = %q", webhook.Reason(err))
			}
			for _, s := range tc.c.Secrets {
				if len(s) > 2 && strings.Contains(err.Error(), s[5:]) {
					t.Fatalf("error %q leaks a secret", err)
				}
			}
		})
	}
	// Every problem is listed at once.
	err := webhook.Config{Scheme: "hmac", Tolerance: -1, Encoding: "x"}.Validate()
	for _, want := range []string{"tolerance", "at least one secret", "header name", "encoding"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate = %v, want it to mention %q", err, want)
		}
	}
}

func TestConfigStringMasksSecrets(t *testing.T) {
	c := webhook.Config{Scheme: "stripe", Secrets: []string{"whsec_topsecret", "whsec_older"}}
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%v %+v %#v %s", c, c, c, c), fmt.Sprint(&c)} {
		if strings.Contains(s, "topsecret") || strings.Contains(s, "older") {
			t.Fatalf("printed config leaks a secret: %s", s)
		}
	}
}

func TestReason(t *testing.T) {
	for err, want := range map[error]string{
		nil:                                      "",
		webhook.ErrNoSignature:                   "missing_signature",
		webhook.ErrMalformed:                     "malformed",
		webhook.ErrMismatch:                      "mismatch",
		webhook.ErrTimestampTooOld:               "stale_timestamp",
		webhook.ErrTimestampTooNew:               "future_timestamp",
		webhook.ErrInvalidConfig:                 "invalid_config",
		errors.New("other"):                      "error",
		fmt.Errorf("x: %w", webhook.ErrMismatch): "mismatch",
	} {
		if got := webhook.Reason(err); got != want {
			t.Errorf("Reason(%v) = %q, want %q", err, got, want)
		}
	}
}

func TestSignErrors(t *testing.T) {
	_, pub, _ := webhook.NewStandardKeyPair(nil)
	if _, err := webhook.SignStandard(pub, "msg_1", now, nil); !errors.Is(err, webhook.ErrInvalidConfig) {
		t.Errorf("SignStandard(whpk_) = %v, want ErrInvalidConfig", err)
	}
	if _, err := webhook.NewStandardSigner("whsec_***"); !errors.Is(err, webhook.ErrInvalidConfig) {
		t.Errorf("NewStandardSigner(bad) = %v, want ErrInvalidConfig", err)
	}
	h := http.Header{webhook.HeaderWebhookID: {"msg.1"}}
	if err := webhook.Sign(*cfg("standard", whsecA), h, nil, now); !errors.Is(err, webhook.ErrInvalidConfig) {
		t.Errorf("Sign(id with dot) = %v, want ErrInvalidConfig", err)
	}
	if _, err := webhook.SignHMAC(*cfg("github", "s"), nil); !errors.Is(err, webhook.ErrInvalidConfig) {
		t.Errorf("SignHMAC(github) = %v, want ErrInvalidConfig", err)
	}
}

// TestConcurrentVerify shares one Verifier (and its pool) between
// goroutines mixing valid and forged requests; run with -race.
func TestConcurrentVerify(t *testing.T) {
	for _, c := range []*webhook.Config{cfg("standard", whsecB, whsecA), cfg("stripe", "a", "b"), cfg("slack", "a"), cfg("github", "a")} {
		v := mustVerifier(t, *c)
		good := http.Header{}
		if err := webhook.Sign(*c, good, testBody, now); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := range 200 {
					body := testBody
					if (g+i)%3 == 0 {
						body = append([]byte("x"), testBody...)
					}
					err := v.Verify(good, body, now)
					if (err == nil) != (len(body) == len(testBody)) {
						t.Errorf("%s: Verify = %v", c.Scheme, err)
						return
					}
				}
			})
		}
		wg.Wait()
	}
}
