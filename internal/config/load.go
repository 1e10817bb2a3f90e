package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// origin is where a Config was read from.
type origin struct {
	file  string
	lines map[string]int // dotted key → line of the key
}

// Load reads the YAML file at path and returns its validated config; see
// Parse. An unreadable file is an error wrapping the os error, so a caller
// can test errors.Is(err, fs.ErrNotExist) and fall back to Default.
func Load(path string, getenv func(string) string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(data, path, getenv)
}

// Parse expands ${VAR} and ${VAR:-default} in data with getenv (see
// Expand), decodes the YAML on top of Default (absent keys keep their
// defaults; unknown keys are errors) and validates the result. filename is
// only used in messages. Every problem found is returned at once as a
// *ValidationError.
func Parse(data []byte, filename string, getenv func(string) string) (*Config, error) {
	fail := func(ps ...Problem) (*Config, error) {
		return nil, &ValidationError{File: filename, Problems: ps}
	}
	text, err := Expand(string(data), getenv)
	if err != nil {
		var ee *expandError
		if errors.As(err, &ee) {
			return fail(Problem{Line: ee.Line, Msg: ee.Msg})
		}
		return fail(Problem{Msg: err.Error()})
	}

	cfg := Default()
	chk := newChecker()
	cfg.src = &origin{file: filename, lines: chk.lines}

	dec := yaml.NewDecoder(bytes.NewReader([]byte(text)))
	var doc yaml.Node
	switch err := dec.Decode(&doc); {
	case errors.Is(err, io.EOF):
		return cfg, cfg.Validate() // an empty file is the defaults
	case err != nil:
		return fail(yamlProblems(err)...)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return fail(yamlProblems(err)...)
		}
		return fail(Problem{Line: extra.Line, Msg: "only one YAML document is allowed"})
	}

	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return cfg, cfg.Validate()
		}
		root = root.Content[0]
	}
	if !chk.check(root, reflect.TypeFor[Config](), "") {
		if len(chk.problems) > 0 {
			return fail(chk.problems...)
		}
		return cfg, cfg.Validate() // null document
	}
	if err := root.Decode(cfg); err != nil {
		// The checker should have removed everything yaml.v3 refuses;
		// whatever is left is still reported, with its line.
		chk.problems = append(chk.problems, yamlProblems(err)...)
	}
	cfg.fill()

	problems := chk.problems
	if err := cfg.Validate(); err != nil {
		var ve *ValidationError
		if !errors.As(err, &ve) {
			return nil, err
		}
		problems = mergeProblems(problems, ve.Problems)
	}
	if len(problems) > 0 {
		sortProblems(problems)
		return fail(problems...)
	}
	return cfg, nil
}

// fill replaces empty entries ("stripe:" with nothing under it) with the
// defaults and derives the defaults that depend on other keys.
func (c *Config) fill() {
	for name, u := range c.Upstreams {
		if u == nil {
			c.Upstreams[name] = DefaultUpstream()
		}
	}
	for name, s := range c.Sources {
		if s == nil {
			s = DefaultSource()
			c.Sources[name] = s
		}
		if s.Verify.Scheme == SchemeHMAC {
			if s.Verify.Encoding == "" {
				s.Verify.Encoding = "hex"
			}
			if s.Verify.Algorithm == "" {
				s.Verify.Algorithm = "sha256"
			}
		}
	}
}

// mergeProblems appends to a the problems of b that are not about a key
// (or inside a key) a already reports: the checker dropped that key, so
// what Validate says about it is about its default.
func mergeProblems(a, b []Problem) []Problem {
	covered := func(key string) bool {
		for _, p := range a {
			if p.Key != "" && (key == p.Key || strings.HasPrefix(key, p.Key+".") || strings.HasPrefix(key, p.Key+"[")) {
				return true
			}
		}
		return false
	}
	out := a
	for _, p := range b {
		if !covered(p.Key) {
			out = append(out, p)
		}
	}
	return out
}

var yamlLineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// yamlProblems turns an error of yaml.v3 into problems with line numbers.
func yamlProblems(err error) []Problem {
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	var out []Problem
	for _, m := range msgs {
		p := Problem{Msg: strings.TrimPrefix(m, "yaml: ")}
		if sub := yamlLineRE.FindStringSubmatch(m); sub != nil {
			p.Line, _ = strconv.Atoi(sub[1])
			p.Msg = sub[2]
		}
		out = append(out, p)
	}
	return out
}
