// Command lat measures request latency at one connection: it sends GET
// requests one after another over a single keep-alive HTTP/1.1 connection
// for a fixed duration, records every round trip with the monotonic clock,
// and prints exact percentiles (no histogram bucketing) in microseconds:
//
//	requests=N errors=E p50_us=… p90_us=… p99_us=… p999_us=… max_us=…
//
// The client is a raw socket with a pre-built request and a buffered
// response parser, so its own cost is small and the same for every target.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"time"
)

func main() {
	duration := flag.Duration("d", 10*time.Second, "measurement duration")
	warmup := flag.Duration("warmup", time.Second, "requests sent and discarded first")
	flag.Parse()
	if flag.NArg() != 1 {
		log.Fatal("usage: lat [-d 10s] [-warmup 1s] http://host:port/path")
	}
	u, err := url.Parse(flag.Arg(0))
	if err != nil {
		log.Fatal(err)
	}
	req := []byte("GET " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host + "\r\nUser-Agent: fender-bench-lat\r\nAccept: */*\r\n\r\n")

	var conn net.Conn
	var br *bufio.Reader
	dial := func() {
		if conn != nil {
			conn.Close()
		}
		conn, err = net.Dial("tcp", u.Host)
		if err != nil {
			log.Fatal(err)
		}
		conn.(*net.TCPConn).SetNoDelay(true)
		br = bufio.NewReaderSize(conn, 16<<10)
	}
	dial()
	errors := 0
	one := func() (time.Duration, bool) {
		t0 := time.Now()
		if _, err := conn.Write(req); err != nil {
			dial()
			return 0, false
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			dial()
			return 0, false
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		d := time.Since(t0)
		if err != nil || resp.StatusCode != 200 || resp.Close {
			dial()
			return d, false
		}
		return d, true
	}

	for end := time.Now().Add(*warmup); time.Now().Before(end); {
		one()
	}
	samples := make([]time.Duration, 0, 1<<20)
	for end := time.Now().Add(*duration); time.Now().Before(end); {
		d, ok := one()
		if !ok {
			errors++
			continue
		}
		samples = append(samples, d)
	}
	if len(samples) == 0 {
		fmt.Fprintln(os.Stderr, "lat: no successful request")
		os.Exit(1)
	}
	slices.Sort(samples)
	q := func(p float64) float64 {
		i := int(p * float64(len(samples)-1))
		return float64(samples[i].Nanoseconds()) / 1e3
	}
	fmt.Printf("requests=%d errors=%d p50_us=%.1f p90_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f\n",
		len(samples), errors, q(0.50), q(0.90), q(0.99), q(0.999), float64(samples[len(samples)-1].Nanoseconds())/1e3)
}
