package webhook_test

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/fender-dev/fender/webhook"
)

func benchVerify(b *testing.B, c webhook.Config, size int) {
	body := bytes.Repeat([]byte("x"), size)
	h := http.Header{}
	if err := webhook.Sign(c, h, body, now); err != nil {
		b.Fatal(err)
	}
	v := mustVerifier(b, c)
	b.ReportAllocs()
	b.SetBytes(int64(size))
	for b.Loop() {
		if err := v.Verify(h, body, now); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyStandard(b *testing.B) {
	benchVerify(b, webhook.Config{Scheme: "standard", Secrets: []string{whsecA}}, 1<<10)
}

func BenchmarkVerifyStandardRotated(b *testing.B) {
	benchVerify(b, webhook.Config{Scheme: "standard", Secrets: []string{whsecB, whsecA}}, 1<<10)
}

func BenchmarkVerifyStandardV1a(b *testing.B) {
	priv, _, err := webhook.NewStandardKeyPair(nil)
	if err != nil {
		b.Fatal(err)
	}
	benchVerify(b, webhook.Config{Scheme: "standard", Secrets: []string{priv}}, 1<<10)
}

func BenchmarkVerifyStripe(b *testing.B) {
	benchVerify(b, webhook.Config{Scheme: "stripe", Secrets: []string{"whsec_x"}}, 1<<10)
}

func BenchmarkVerifyGitHub(b *testing.B) {
	benchVerify(b, webhook.Config{Scheme: "github", Secrets: []string{"x"}}, 1<<10)
}

func BenchmarkStandardSigner(b *testing.B) {
	s, err := webhook.NewStandardSigner(whsecA)
	if err != nil {
		b.Fatal(err)
	}
	body := bytes.Repeat([]byte("x"), 1<<10)
	b.ReportAllocs()
	for b.Loop() {
		s.Sign("msg_1", now, body)
	}
}
