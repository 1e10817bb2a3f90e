// Command naiveinbox is the baseline of bench/ingest.sh: the webhook inbox
// one would write first. It verifies the Stripe signature with fender's own
// webhook package (so verification costs the same on both sides), extracts
// the event id from the JSON body and inserts the event into SQLite
// (modernc.org/sqlite, WAL, synchronous=FULL, UNIQUE (source, event_id)) in
// its own transaction, one fsync per webhook, over one write connection,
// before answering 200 {"id": …, "duplicate": …}. No group commit: that is
// what fender has to beat.
package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"flag"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"time"

	_ "modernc.org/sqlite"

	"github.com/fender-dev/fender/webhook"
)

const schema = `
CREATE TABLE IF NOT EXISTS events (
    seq         INTEGER PRIMARY KEY,
    id          TEXT    NOT NULL UNIQUE,
    source      TEXT    NOT NULL,
    event_id    TEXT    NOT NULL,
    headers     TEXT    NOT NULL,
    body        BLOB    NOT NULL,
    status      TEXT    NOT NULL DEFAULT 'pending',
    received_at INTEGER NOT NULL,
    UNIQUE (source, event_id)
);`

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	path := flag.String("db", "naive.db", "SQLite file")
	secret := flag.String("secret", "whsec_bench_secret", "Stripe signing secret")
	route := flag.String("path", "/webhooks/stripe", "webhook path")
	flag.Parse()

	db, err := sql.Open("sqlite", *path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)")
	if err != nil {
		log.Fatal(err)
	}
	db.SetMaxOpenConns(1) // SQLite has one writer; more connections only wait on its lock
	if _, err := db.Exec(schema); err != nil {
		log.Fatal(err)
	}
	ins, err := db.Prepare(`INSERT INTO events (id, source, event_id, headers, body, received_at)
		VALUES (?, 'stripe', ?, ?, ?, ?) ON CONFLICT (source, event_id) DO NOTHING`)
	if err != nil {
		log.Fatal(err)
	}
	ver, err := webhook.NewVerifier(webhook.Config{Scheme: "stripe", Secrets: []string{*secret}})
	if err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("POST "+*route, func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		now := time.Now()
		if err := ver.Verify(r.Header, body, now); err != nil {
			http.Error(w, webhook.Reason(err), http.StatusUnauthorized)
			return
		}
		var ev struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(body, &ev) != nil || ev.ID == "" {
			http.Error(w, "no event id", http.StatusBadRequest)
			return
		}
		hdr, _ := json.Marshal(map[string]string{"Stripe-Signature": r.Header.Get("Stripe-Signature")})
		var b [16]byte
		rand.Read(b[:])
		id := hex.EncodeToString(b[:])
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		res, err := ins.ExecContext(ctx, id, ev.ID, string(hdr), body, now.UnixMicro())
		cancel()
		if err != nil {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "store unavailable", http.StatusServiceUnavailable)
			return
		}
		dup := false
		if n, _ := res.RowsAffected(); n == 0 {
			dup = true
			w.Header().Set("Fender-Duplicate", "true")
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"id": id, "duplicate": dup})
	})

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second,
		ErrorLog: log.New(os.Stderr, "naiveinbox: ", 0)}
	log.Fatal(srv.Serve(ln))
}
