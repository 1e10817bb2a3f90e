// Command app is the application of bench/ingest.sh's end-to-end run: it
// receives fender's deliveries on POST /hooks, answers 204 at once, and
// records for each event (by Fender-Event-Id, else the body's "id") the
// time from the generator's send ("sent_ns" in the body, Unix nanoseconds;
// generator and app share this machine's clock) to its arrival here.
// Redeliveries of an event already seen are counted apart.
//
// GET /stats prints, latencies in milliseconds with exact percentiles:
//
//	delivered=N redelivered=R p50_ms=… p90_ms=… p99_ms=… max_ms=…
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	flag.Parse()

	var (
		mu          sync.Mutex
		seen        = make(map[string]struct{}, 1<<16)
		lat         []time.Duration
		redelivered int
		bad         int
	)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("POST /hooks", func(w http.ResponseWriter, r *http.Request) {
		now := time.Now().UnixNano()
		body, err := io.ReadAll(r.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		id := r.Header.Get("Fender-Event-Id")
		if id == "" {
			id = field(body, `"id":"`, '"')
		}
		sent, err := strconv.ParseInt(field(body, `"sent_ns":`, ','), 10, 64)
		mu.Lock()
		switch _, dup := seen[id]; {
		case err != nil || id == "":
			bad++
		case dup:
			redelivered++
		default:
			seen[id] = struct{}{}
			lat = append(lat, time.Duration(now-sent))
		}
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		l := slices.Clone(lat)
		red, b := redelivered, bad
		mu.Unlock()
		slices.Sort(l)
		q := func(p float64) float64 {
			if len(l) == 0 {
				return 0
			}
			return float64(l[int(p*float64(len(l)-1))].Nanoseconds()) / 1e6
		}
		fmt.Fprintf(w, "delivered=%d redelivered=%d unparsable=%d p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
			len(l), red, b, q(0.5), q(0.9), q(0.99), q(1))
	})
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second,
		ErrorLog: log.New(os.Stderr, "app: ", 0)}
	log.Fatal(srv.Serve(ln))
}

// field returns the bytes after key up to end (or the closing brace).
func field(body []byte, key string, end byte) string {
	i := bytes.Index(body, []byte(key))
	if i < 0 {
		return ""
	}
	rest := body[i+len(key):]
	if j := bytes.IndexAny(rest, string(end)+"}"); j >= 0 {
		rest = rest[:j]
	}
	return string(bytes.TrimSpace(rest))
}
