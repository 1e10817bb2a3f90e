package inbox

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fender-dev/fender/webhook"
)

var benchBody = []byte(`{"id":"evt_1NG8Du2eZvKYlo2CUI79vXWy","object":"event","api_version":"2023-10-16",` +
	`"created":1686089970,"data":{"object":{"id":"ch_3NG8Du2eZvKYlo2C0n4n2g6J","object":"charge",` +
	`"amount":2000,"currency":"usd","metadata":{"order":"6735"}}},"livemode":false,"type":"charge.succeeded"}`)

func BenchmarkLookup(b *testing.B) {
	path := strings.Split("data.object.id", ".")
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := lookup(benchBody, path); !ok {
			b.Fatal("not found")
		}
	}
}

// BenchmarkServeHTTP measures the whole handler in process, with stripe
// signatures and a real SQLite store doing group commit; each request is a
// new event. Run with -cpu 2 to match the target machine.
func BenchmarkServeHTTP(b *testing.B) {
	st := openStore(b)
	in, err := New(testConfig(), st, Options{})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	type signed struct {
		body []byte
		sig  string
	}
	reqs := make([]signed, b.N)
	for i := range reqs {
		body := bytes.Replace(benchBody, []byte("evt_1NG8Du2eZvKYlo2CUI79vXWy"), fmt.Appendf(nil, "evt_%024d", i), 1)
		reqs[i] = signed{body, webhook.SignStripe(stripeSecret, now, body)}
	}
	var next atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(64) // webhook senders are many and each waits for its commit
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := reqs[next.Add(1)-1]
			req := httptest.NewRequest(http.MethodPost, "/wh/stripe", bytes.NewReader(r.body))
			req.Header.Set("Stripe-Signature", r.sig)
			req.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			in.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				b.Errorf("status %d: %s", w.Code, w.Body)
				return
			}
		}
	})
}
