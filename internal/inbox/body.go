package inbox

import (
	"errors"
	"io"
	"net/http"
	"sync"
)

// Read buffers are pooled: most webhooks are a few KiB, and a buffer that
// grew for a large body is dropped rather than kept.
const (
	initialBuf = 8 << 10
	maxPoolBuf = 256 << 10
)

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, initialBuf); return &b }}

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(bp *[]byte) {
	if cap(*bp) > maxPoolBuf {
		return
	}
	*bp = (*bp)[:0]
	bufPool.Put(bp)
}

// errTooLarge reports a body longer than the source's max_body.
var errTooLarge = errors.New("inbox: body too large")

// readBody reads r's body into *bp (growing it as needed) and returns it.
// It never holds more than max+1 bytes: a declared Content-Length over max
// fails before reading, and chunked bodies are cut by http.MaxBytesReader,
// which also makes the server close the connection afterwards.
func readBody(w http.ResponseWriter, r *http.Request, max int64, bp *[]byte) ([]byte, error) {
	if r.ContentLength > max {
		return nil, errTooLarge
	}
	buf := (*bp)[:0]
	if r.ContentLength >= 0 && int64(cap(buf)) < r.ContentLength+1 {
		// +1 leaves room for the read that reports EOF.
		buf = make([]byte, 0, r.ContentLength+1)
	}
	body := http.MaxBytesReader(w, r.Body, max)
	for {
		if len(buf) == cap(buf) {
			n := 2 * cap(buf)
			if int64(n) > max+1 {
				n = int(max + 1)
			}
			if n <= len(buf) {
				n = len(buf) + 512
			}
			nb := make([]byte, len(buf), n)
			copy(nb, buf)
			buf = nb
		}
		n, err := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			*bp = buf
			return buf, nil
		}
		if err != nil {
			*bp = buf
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, errTooLarge
			}
			return nil, err
		}
	}
}
