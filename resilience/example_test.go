package resilience_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"time"

	"github.com/fender-dev/fender/resilience"
)

// A flaky upstream answers 503 twice; the policy's retries hide it.
func Example() {
	var n atomic.Int32
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) <= 2 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, `{"ok":true}`)
	}))
	defer upstream.Close()

	p := resilience.DefaultPolicy()
	p.Retry.Backoff = resilience.Backoff{Base: 10 * time.Millisecond, Max: 50 * time.Millisecond}
	// The test server listens on loopback, which the default dialer refuses.
	rt, err := resilience.New("example", p, resilience.Options{AllowPrivateNetwork: true})
	if err != nil {
		panic(err)
	}
	client := &http.Client{Transport: rt}
	resp, err := client.Get(upstream.URL)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(body), "after", n.Load(), "attempts")
	// Output: 200 {"ok":true} after 3 attempts
}

// Failures the chain answers itself come back as *resilience.Error with a
// category, never as a bare string.
func ExampleError() {
	p := resilience.DefaultPolicy()
	rt, _ := resilience.New("internal", p, resilience.Options{})
	req, _ := http.NewRequest("GET", "http://127.0.0.1:1/", nil)
	_, err := rt.RoundTrip(req)
	if fe, ok := err.(*resilience.Error); ok {
		fmt.Println(fe.Category)
	}
	// Output: forbidden_destination
}
