package inbox

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/fender-dev/fender/internal/config"
)

func TestLookup(t *testing.T) {
	cases := []struct {
		body, path, want string
		ok               bool
	}{
		{`{"id":"evt_1"}`, "id", "evt_1", true},
		{` { "a" : { "b" : [ 1 , { "c" : "x" } ] } } `, "a.b.1.c", "x", true},
		{`{"a":{"b":[10,20,30]}}`, "a.b.2", "30", true},
		{`{"a":{"b":[10,20,30]}}`, "a.b.3", "", false},
		{`{"a":{"b":[10,20,30]}}`, "a.b.01", "", false},
		{`{"a":{"b":[10,20,30]}}`, "a.b.-1", "", false},
		{`{"a":[]}`, "a.0", "", false},
		{`{"n":12345678901234567890123}`, "n", "12345678901234567890123", true},
		{`{"n":-0.5E-7}`, "n", "-0.5E-7", true},
		{`{"n":1.0}`, "n", "1.0", true},
		{`{"n":01}`, "n", "", false},
		{`{"n":1.}`, "n", "", false},
		{`{"n":true}`, "n", "", false},
		{`{"n":null}`, "n", "", false},
		{`{"n":{}}`, "n", "", false},
		{`{"skip":{"id":"inner","s":"}\"{"},"id":"outer"}`, "id", "outer", true},
		{`{"\u0069d":"escaped key"}`, "id", "escaped key", true},
		{`{"id":"tab\tnewline\n\ud83d\ude00"}`, "id", "tab\tnewline\n😀", true},
		{`{"id":"first","id":"second"}`, "id", "first", true},
		{`{"id":"unterminated}`, "id", "", false},
		{`{"a":1,}`, "b", "", false},
		{`{"a" 1}`, "a", "", false},
		{`["x"]`, "id", "", false},
		{`"id"`, "id", "", false},
		{``, "id", "", false},
		{`{`, "id", "", false},
		{`{"id":`, "id", "", false},
		{`{"a":[1,2`, "a.5", "", false},
	}
	for _, c := range cases {
		got, ok := lookup([]byte(c.body), strings.Split(c.path, "."))
		if got != c.want || ok != c.ok {
			t.Errorf("lookup(%s, %s) = %q, %v; want %q, %v", c.body, c.path, got, ok, c.want, c.ok)
		}
	}
}

func TestExtractHeaderAndLimits(t *testing.T) {
	h := http.Header{}
	h.Set("X-Event-Id", "evt_h")
	ref, _ := config.ParseFieldRef("header:x-event-id")
	if got := extract(ref, h, nil); got != "evt_h" {
		t.Errorf("header: %q", got)
	}
	if got := extract(config.FieldRef{}, h, []byte(`{"id":"x"}`)); got != "" {
		t.Errorf("zero ref: %q", got)
	}
	body, _ := config.ParseFieldRef("body.id")
	long := `{"id":"` + strings.Repeat("a", maxKeyLen+1) + `"}`
	if got := extract(body, nil, []byte(long)); got != "" {
		t.Errorf("over-long id kept (%d bytes)", len(got))
	}
	if got := extract(body, nil, []byte("{\"id\":\"\xff\xfe\"}")); got != "" {
		t.Errorf("invalid UTF-8 kept: %q", got)
	}
	if got := extract(body, nil, []byte(`{"id":""}`)); got != "" {
		t.Errorf("empty kept: %q", got)
	}
}

// refLookup is lookup written with encoding/json's tokenizer: the oracle
// for FuzzExtract on valid JSON.
func refLookup(body []byte, path []string) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	skip := func() bool { var raw json.RawMessage; return dec.Decode(&raw) == nil }
	for _, seg := range path {
		tok, err := dec.Token()
		if err != nil {
			return "", false
		}
		found := false
		switch tok {
		case json.Delim('{'):
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return "", false
				}
				if k.(string) == seg {
					found = true
					break
				}
				if !skip() {
					return "", false
				}
			}
		case json.Delim('['):
			n, err := strconv.Atoi(seg)
			if err != nil || n < 0 || (len(seg) > 1 && seg[0] == '0') || seg[0] == '+' {
				return "", false
			}
			for i := 0; dec.More(); i++ {
				if i == n {
					found = true
					break
				}
				if !skip() {
					return "", false
				}
			}
		}
		if !found {
			return "", false
		}
	}
	tok, err := dec.Token()
	if err != nil {
		return "", false
	}
	switch v := tok.(type) {
	case string:
		return v, true
	case json.Number:
		return string(v), true
	}
	return "", false
}

func FuzzExtract(f *testing.F) {
	for _, s := range []struct{ body, path string }{
		{`{"id":"evt_1"}`, "id"},
		{`{"data":{"object":{"id":"ch_1"}}}`, "data.object.id"},
		{`{"a":[1,{"b":-2.5e3}]}`, "a.1.b"},
		{`{"\u0069d":"x\"y","id":"z"}`, "id"},
		{`{"a":{"id":1},"id":"\ud83d\ude00"}`, "id"},
		{`{"a":"}]","b":[{"c":[]}],"id":12}`, "id"},
		{`[[["deep"]]]`, "0.0.0"},
		{`{"id":"unterminated`, "id"},
	} {
		f.Add([]byte(s.body), s.path)
	}
	f.Fuzz(func(t *testing.T, body []byte, path string) {
		if path == "" || strings.Contains(path, "..") {
			return
		}
		segs := strings.Split(path, ".")
		got, ok := lookup(body, segs)
		if !json.Valid(body) || !utf8.Valid(body) {
			return // no panic is the property
		}
		want, wok := refLookup(body, segs)
		if got != want || ok != wok {
			t.Fatalf("lookup(%q, %q) = %q, %v; encoding/json says %q, %v", body, path, got, ok, want, wok)
		}
		if ref, err := config.ParseFieldRef("body:" + path); err == nil {
			if v := extract(ref, nil, body); v != "" && !validKey(v) {
				t.Fatalf("extract returned invalid key %q", v)
			}
		}
	})
}
