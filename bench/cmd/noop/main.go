// Command noop is the ceiling of bench/ingest.sh: an HTTP server that reads
// each request's body and answers 200 with a small JSON body shaped like
// fender's ingest answer, storing and checking nothing. What the load
// generator reaches against it is the most this machine's HTTP stack and
// generator can do.
package main

import (
	"flag"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"time"
)

var body = []byte(`{"id":"01890000-0000-7000-8000-000000000000","duplicate":false}` + "\n")

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header()["Content-Type"] = []string{"application/json"}
		w.Write(body)
	})
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second,
		ErrorLog: log.New(os.Stderr, "noop: ", 0)}
	log.Fatal(srv.Serve(ln))
}
