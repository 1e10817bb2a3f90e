package config

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/fender-dev/fender/resilience"
)

// FuzzParse checks that Parse never panics, that it fails only with a
// *ValidationError, and that a config it accepts prints as YAML that loads
// back to the same config.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/broken/*.yaml")
	seeds = append(seeds, "../../examples/quickstart.yaml", "../../examples/full.yaml")
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(minimal))
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("base: &b {url: https://x.example}\nupstreams: {x: {<<: *b}}\n"))
	getenv := env(fullEnv)
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, "fuzz.yaml", getenv)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || len(ve.Problems) == 0 {
				t.Fatalf("error %v (%T) is not a *ValidationError with problems", err, err)
			}
			_ = err.Error()
			return
		}
		var buf bytes.Buffer
		if err := writeYAML(&buf, c); err != nil {
			t.Fatalf("writeYAML: %v", err)
		}
		if err := c.WriteEffective(&bytes.Buffer{}); err != nil {
			t.Fatalf("WriteEffective: %v", err)
		}
		c2, err := Parse(buf.Bytes(), "effective.yaml", func(string) string { return "" })
		if err != nil {
			t.Fatalf("effective config does not load back: %v\ninput:\n%s\neffective:\n%s", err, data, buf.Bytes())
		}
		normalize(c)
		normalize(c2)
		if !reflect.DeepEqual(c, c2) {
			t.Fatalf("round trip changed the config\ninput:\n%s\neffective:\n%s", data, buf.Bytes())
		}
	})
}

// normalize drops what a round trip through text may change: the origin
// and the last bits of percentages.
func normalize(c *Config) {
	c.src = nil
	if len(c.Upstreams) == 0 {
		c.Upstreams = nil
	}
	if len(c.Sources) == 0 {
		c.Sources = nil
	}
	round := func(p *resilience.Percent) {
		*p = resilience.Percent(math.Round(float64(*p)*1e9) / 1e9)
	}
	for _, u := range c.Upstreams {
		round(&u.Retry.Budget)
		round(&u.Breaker.FailureRate)
	}
}
