// Command origin is the benchmark's upstream: it answers every request with
// a small JSON body over keep-alive HTTP/1.1, like a payments API would for
// GET /v1/charges/{id}. It prints its listening address on stdout.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
)

var body = []byte(`{"id":"ch_123","amount":1000,"currency":"usd"}`)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Fprintln(os.Stdout, ln.Addr().String())
	length := strconv.Itoa(len(body))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd["Content-Type"] = []string{"application/json"}
		hd["Content-Length"] = []string{length}
		w.Write(body)
	})
	srv := &http.Server{Handler: h, ErrorLog: log.New(os.Stderr, "origin: ", 0)}
	log.Fatal(srv.Serve(ln))
}
