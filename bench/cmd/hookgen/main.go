// Command hookgen is the webhook load generator of bench/ingest.sh: it POSTs
// Stripe-signed webhooks, each with a unique event id, over keep-alive
// HTTP/1.1 connections and reports what came back.
//
// Closed loop (the default): -c senders, one connection each, send one
// webhook after another for -d; the first -warmup is sent but not counted.
// Open loop (-rate R): webhooks are sent at R per second, spread over at most
// -c connections, for -d; each body carries the time it was sent
// ("sent_ns", Unix nanoseconds) so bench/cmd/app can time the delivery.
//
// It prints one line, latencies in milliseconds with exact percentiles:
//
//	conns=64 sent=N acks=A dups=D non200=X errors=E acks_per_s=… p50_ms=… p90_ms=… p99_ms=… max_ms=…
//
// acks are 200 answers without Fender-Duplicate: true; dups are 200 answers
// with it; non200 every other status; errors failed round trips (the
// connection is then dialed again). The client is a raw socket with a
// pre-built request template and a minimal response parser, so its own cost
// stays small and identical for every target.
package main

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	conns := flag.Int("c", 16, "connections (closed loop: concurrent senders)")
	duration := flag.Duration("d", 10*time.Second, "measured duration")
	warmup := flag.Duration("warmup", time.Second, "closed loop: sent first and not counted")
	rate := flag.Float64("rate", 0, "open loop: webhooks per second (0: closed loop)")
	secret := flag.String("secret", "whsec_bench_secret", "Stripe signing secret")
	size := flag.Int("size", 1024, "approximate body size in bytes")
	prefix := flag.String("prefix", "", "event id prefix (default: derived from the clock, unique per run)")
	flag.Parse()
	if flag.NArg() != 1 || *conns < 1 {
		log.Fatal("usage: hookgen [-c 16] [-d 10s] [-warmup 1s] [-rate 0] [-size 1024] http://host:port/webhooks/stripe")
	}
	u, err := url.Parse(flag.Arg(0))
	if err != nil {
		log.Fatal(err)
	}
	if *prefix == "" {
		*prefix = strconv.FormatInt(time.Now().UnixNano()/1e6, 36)
	}
	g := &gen{host: u.Host, path: u.RequestURI(), secret: []byte(*secret), size: *size, prefix: *prefix}

	var ws []*worker
	for i := range *conns {
		ws = append(ws, g.newWorker(i))
	}
	var wg sync.WaitGroup
	start := time.Now()
	var measureFrom, end time.Time
	if *rate <= 0 {
		measureFrom = start.Add(*warmup)
		end = measureFrom.Add(*duration)
		for _, w := range ws {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					t0 := time.Now()
					if !t0.Before(end) {
						return
					}
					w.one(t0, !t0.Before(measureFrom))
				}
			}()
		}
	} else {
		// Open loop: the pacer hands out send slots; a slot not taken at
		// once waits in the queue (its latency still counts from the
		// moment it is actually sent, as the body says).
		measureFrom = start
		end = start.Add(*duration)
		total := int(*rate * duration.Seconds())
		slots := make(chan struct{}, total+1)
		for _, w := range ws {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range slots {
					w.one(time.Now(), true)
				}
			}()
		}
		interval := time.Duration(float64(time.Second) / *rate)
		for i := range total {
			if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
				time.Sleep(d)
			}
			slots <- struct{}{}
		}
		close(slots)
	}
	wg.Wait()
	elapsed := end.Sub(measureFrom)
	if *rate > 0 {
		elapsed = time.Since(start)
	}

	var sent, acks, dups, non200, errs int
	var lat []time.Duration
	for _, w := range ws {
		sent += w.sent
		acks += w.acks
		dups += w.dups
		non200 += w.non200
		errs += w.errs
		lat = append(lat, w.lat...)
		if w.conn != nil {
			w.conn.Close()
		}
	}
	if w := firstErr.Load(); w != nil {
		fmt.Fprintln(os.Stderr, "hookgen: first error:", *w)
	}
	slices.Sort(lat)
	q := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return float64(lat[int(p*float64(len(lat)-1))].Nanoseconds()) / 1e6
	}
	fmt.Printf("conns=%d sent=%d acks=%d dups=%d non200=%d errors=%d acks_per_s=%.0f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
		*conns, sent, acks, dups, non200, errs, float64(acks)/elapsed.Seconds(), q(0.50), q(0.90), q(0.99), q(1))
	if acks == 0 {
		os.Exit(1)
	}
}

var firstErr atomic.Pointer[string]

func noteErr(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	firstErr.CompareAndSwap(nil, &s)
}

type gen struct {
	host, path string
	secret     []byte
	size       int
	prefix     string
}

type worker struct {
	g    *gen
	id   int
	seq  int
	conn net.Conn
	br   *bufio.Reader
	mac  interface {
		io.Writer
		Sum([]byte) []byte
		Reset()
	}
	req, body []byte
	pad       string
	tsUnix    int64
	tsText    string
	sum       [sha256.Size]byte
	sig       [2 * sha256.Size]byte

	sent, acks, dups, non200, errs int
	lat                            []time.Duration
}

func (g *gen) newWorker(id int) *worker {
	w := &worker{g: g, id: id, lat: make([]time.Duration, 0, 1<<16)}
	w.mac = hmac.New(sha256.New, g.secret)
	// A Stripe-like event; the description pads it to about -size bytes.
	base := len(g.bodyFor(w, "evt_"+g.prefix+"_000_000000000", 1<<62))
	if n := g.size - base; n > 0 {
		w.pad = strings.Repeat("x", n)
	}
	return w
}

func (g *gen) bodyFor(w *worker, id string, sentNS int64) []byte {
	b := w.body[:0]
	b = append(b, `{"id":"`...)
	b = append(b, id...)
	b = append(b, `","object":"event","type":"charge.succeeded","api_version":"2024-06-20","sent_ns":`...)
	b = strconv.AppendInt(b, sentNS, 10)
	b = append(b, `,"data":{"object":{"id":"ch_`...)
	b = append(b, id[4:]...)
	b = append(b, `","object":"charge","amount":1000,"currency":"usd","description":"`...)
	b = append(b, w.pad...)
	b = append(b, `"}}}`...)
	w.body = b
	return b
}

// one sends one webhook and reads the answer; t0 is now.
func (w *worker) one(t0 time.Time, count bool) {
	w.seq++
	id := "evt_" + w.g.prefix + "_" + strconv.Itoa(w.id) + "_" + strconv.Itoa(w.seq)
	body := w.g.bodyFor(w, id, t0.UnixNano())
	if s := t0.Unix(); s != w.tsUnix {
		w.tsUnix, w.tsText = s, strconv.FormatInt(s, 10)
	}
	w.mac.Reset()
	io.WriteString(w.mac, w.tsText)
	w.mac.Write([]byte{'.'})
	w.mac.Write(body)
	hex.Encode(w.sig[:], w.mac.Sum(w.sum[:0]))

	r := w.req[:0]
	r = append(r, "POST "...)
	r = append(r, w.g.path...)
	r = append(r, " HTTP/1.1\r\nHost: "...)
	r = append(r, w.g.host...)
	r = append(r, "\r\nUser-Agent: Stripe/1.0 (+https://stripe.com/docs/webhooks)\r\nContent-Type: application/json; charset=utf-8\r\nStripe-Signature: t="...)
	r = append(r, w.tsText...)
	r = append(r, ",v1="...)
	r = append(r, w.sig[:]...)
	r = append(r, "\r\nContent-Length: "...)
	r = strconv.AppendInt(r, int64(len(body)), 10)
	r = append(r, "\r\n\r\n"...)
	r = append(r, body...)
	w.req = r

	if count {
		w.sent++
	}
	status, dup, err := w.roundTrip(r)
	d := time.Since(t0)
	if !count {
		return
	}
	switch {
	case err != nil:
		w.errs++
		noteErr("%v", err)
	case status == 200 && dup:
		w.dups++
	case status == 200:
		w.acks++
		w.lat = append(w.lat, d)
	default:
		w.non200++
		noteErr("status %d", status)
	}
}

func (w *worker) roundTrip(req []byte) (status int, dup bool, err error) {
	for attempt := 0; ; attempt++ {
		if w.conn == nil {
			c, err := net.Dial("tcp", w.g.host)
			if err != nil {
				return 0, false, err
			}
			c.(*net.TCPConn).SetNoDelay(true)
			w.conn, w.br = c, bufio.NewReaderSize(c, 16<<10)
		}
		fresh := attempt > 0
		if _, err = w.conn.Write(req); err == nil {
			var keep bool
			status, dup, keep, err = readResponse(w.br)
			if err == nil {
				if !keep {
					w.conn.Close()
					w.conn = nil
				}
				return status, dup, nil
			}
		}
		w.conn.Close()
		w.conn = nil
		// A kept-alive connection the server closed while idle: retry once
		// on a new one; otherwise the error counts.
		if fresh || !errors.Is(err, io.EOF) {
			return 0, false, err
		}
	}
}

var (
	hdrLength = []byte("content-length:")
	hdrDup    = []byte("fender-duplicate:")
	hdrConn   = []byte("connection:")
	hdrTE     = []byte("transfer-encoding:")
)

// readResponse reads one HTTP/1.1 response with a Content-Length body (or a
// chunked one) and discards the body.
func readResponse(br *bufio.Reader) (status int, dup, keep bool, err error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return 0, false, false, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, false, false, fmt.Errorf("bad status line %q", line)
	}
	status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, false, false, fmt.Errorf("bad status line %q", line)
	}
	length, chunked := -1, false
	keep = true
	var lower [64]byte
	for {
		line, err = br.ReadSlice('\n')
		if err != nil {
			return 0, false, false, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok || len(k) >= len(lower) {
			continue
		}
		key := lower[:len(k)+1]
		for i, c := range k {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			key[i] = c
		}
		key[len(k)] = ':'
		v = bytes.TrimSpace(v)
		switch {
		case bytes.Equal(key, hdrLength):
			length, err = strconv.Atoi(string(v))
			if err != nil {
				return 0, false, false, fmt.Errorf("bad Content-Length %q", v)
			}
		case bytes.Equal(key, hdrDup):
			dup = bytes.EqualFold(v, []byte("true"))
		case bytes.Equal(key, hdrConn):
			keep = !bytes.EqualFold(v, []byte("close"))
		case bytes.Equal(key, hdrTE):
			chunked = bytes.EqualFold(v, []byte("chunked"))
		}
	}
	switch {
	case chunked:
		for {
			line, err = br.ReadSlice('\n')
			if err != nil {
				return 0, false, false, err
			}
			n, err := strconv.ParseInt(string(bytes.TrimSpace(bytes.SplitN(line, []byte(";"), 2)[0])), 16, 64)
			if err != nil {
				return 0, false, false, fmt.Errorf("bad chunk size %q", line)
			}
			if _, err := br.Discard(int(n) + 2); err != nil {
				return 0, false, false, err
			}
			if n == 0 {
				break
			}
		}
	case length > 0:
		if _, err := br.Discard(length); err != nil {
			return 0, false, false, err
		}
	case length < 0:
		return 0, false, false, errors.New("response without Content-Length")
	}
	return status, dup, keep, nil
}
