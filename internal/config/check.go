package config

import (
	"encoding"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// The checker walks the YAML node tree against the Go type it will be
// decoded into, before decoding. yaml.v3 stops at the first error a
// TextUnmarshaler returns (a bad "20%" or "1MiB") and names no key in its
// type errors, so this pass finds those problems itself, with key and line,
// and removes the offending entries so that decoding can go on and every
// problem of the file is reported at once. It also records the line of every
// key, for Validate.

var (
	durationType        = reflect.TypeFor[time.Duration]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// maxCheckNodes bounds the walk: aliases can make a small document expand
// exponentially.
const maxCheckNodes = 100_000

type checker struct {
	lines    map[string]int
	problems []Problem
	budget   int
}

func newChecker() *checker {
	return &checker{lines: make(map[string]int), budget: maxCheckNodes}
}

func (c *checker) bad(key string, n *yaml.Node, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	c.problems = append(c.problems, Problem{Key: key, Line: line, Msg: fmt.Sprintf(format, args...)})
}

func joinKey(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if isNull(n) {
			return "empty"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "something else"
}

// check reports whether n can be decoded into a value of type t. When it
// returns false, the caller removes n from the tree.
func (c *checker) check(n *yaml.Node, t reflect.Type, path string) bool {
	if c.budget <= 0 {
		return false
	}
	c.budget--
	if c.budget == 0 {
		c.bad(path, n, "document too large or too deeply aliased")
		return false
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			c.bad(path, n, "unknown alias")
			return false
		}
		return c.check(n.Alias, t, path)
	}

	switch {
	case t == durationType:
		if n.Kind != yaml.ScalarNode || isNull(n) {
			c.bad(path, n, "must be a duration such as 250ms, 5s or 2h, not %s", kindName(n))
			return false
		}
		if n.ShortTag() != "!!str" {
			c.bad(path, n, "%s has no unit: write a duration such as %ss or %sms", n.Value, n.Value, n.Value)
			return false
		}
		if _, err := time.ParseDuration(n.Value); err != nil {
			c.bad(path, n, "%q is not a duration such as 250ms, 5s or 2h", n.Value)
			return false
		}
		return true
	case reflect.PointerTo(t).Implements(textUnmarshalerType):
		if n.Kind != yaml.ScalarNode || isNull(n) {
			c.bad(path, n, "must be a single value, not %s", kindName(n))
			return false
		}
		v := reflect.New(t).Interface().(encoding.TextUnmarshaler)
		if err := v.UnmarshalText([]byte(n.Value)); err != nil {
			c.bad(path, n, "%v", err)
			return false
		}
		return true
	}

	switch t.Kind() {
	case reflect.Pointer:
		if isNull(n) {
			return true
		}
		return c.check(n, t.Elem(), path)
	case reflect.Struct:
		if isNull(n) {
			return false // an empty section keeps its defaults
		}
		if n.Kind != yaml.MappingNode {
			c.bad(path, n, "must be a mapping of keys, not %s", kindName(n))
			return false
		}
		fields := yamlFields(t)
		c.mapping(n, path, func(key string) (reflect.Type, bool) {
			ft, ok := fields[key]
			return ft, ok
		}, t)
		return true
	case reflect.Map:
		if isNull(n) {
			return true
		}
		if n.Kind != yaml.MappingNode {
			c.bad(path, n, "must be a mapping of names, not %s", kindName(n))
			return false
		}
		et := t.Elem()
		c.mapping(n, path, func(string) (reflect.Type, bool) { return et, true }, t)
		return true
	case reflect.Slice:
		if isNull(n) {
			return true
		}
		if n.Kind != yaml.SequenceNode {
			c.bad(path, n, "must be a list, not %s", kindName(n))
			return false
		}
		ok := true
		for i, e := range n.Content {
			key := path + "[" + strconv.Itoa(i) + "]"
			c.lines[key] = e.Line
			if !c.check(e, t.Elem(), key) {
				ok = false
			}
		}
		return ok
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			c.bad(path, n, "must be a single value, not %s", kindName(n))
			return false
		}
		if isNull(n) {
			// yaml.v3 leaves a string alone on null; a key written
			// empty means empty ("admin:" turns the listener off).
			n.Tag, n.Value, n.Style = "!!str", "", yaml.DoubleQuotedStyle
		}
		return true
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
			c.bad(path, n, "must be true or false, not %s", kindName(n))
			return false
		}
		return true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
			c.bad(path, n, "must be a whole number, not %s", kindName(n))
			return false
		}
		if _, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, t.Bits()); err != nil {
			c.bad(path, n, "%s is out of range", n.Value)
			return false
		}
		return true
	case reflect.Float32, reflect.Float64:
		if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!int" && n.ShortTag() != "!!float") {
			c.bad(path, n, "must be a number, not %s", kindName(n))
			return false
		}
		return true
	}
	c.bad(path, n, "cannot be decoded into %s", t)
	return false
}

// mapping checks the entries of the mapping node n. field returns the type of
// a key's value and whether the key is known. Bad entries are removed.
func (c *checker) mapping(n *yaml.Node, path string, field func(string) (reflect.Type, bool), t reflect.Type) {
	seen := make(map[string]int)
	kept := n.Content[:0:0]
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.AliasNode && k.Alias != nil {
			k = k.Alias
		}
		if k.Kind != yaml.ScalarNode {
			c.bad(path, k, "a key must be a plain name, not %s", kindName(k))
			continue
		}
		if k.Value == "<<" && k.ShortTag() == "!!merge" {
			if c.merge(v, t, path) {
				kept = append(kept, n.Content[i], v)
			}
			continue
		}
		if isNull(k) || k.Value == "" {
			c.bad(path, k, "a key must not be empty")
			continue
		}
		key := joinKey(path, k.Value)
		if first, dup := seen[k.Value]; dup {
			c.bad(key, k, "defined twice (first at line %d)", first)
			continue
		}
		seen[k.Value] = k.Line
		ft, ok := field(k.Value)
		if !ok {
			c.bad(key, k, "unknown key")
			continue
		}
		c.lines[key] = k.Line
		if !c.check(v, ft, key) {
			continue
		}
		kept = append(kept, n.Content[i], v)
	}
	n.Content = kept
}

// merge checks the value of a "<<" merge key: a mapping or a list of them.
func (c *checker) merge(v *yaml.Node, t reflect.Type, path string) bool {
	if v.Kind == yaml.AliasNode && v.Alias != nil {
		v = v.Alias
	}
	switch v.Kind {
	case yaml.MappingNode:
		return c.check(v, t, path)
	case yaml.SequenceNode:
		for _, e := range v.Content {
			if e.Kind == yaml.AliasNode && e.Alias != nil {
				e = e.Alias
			}
			if e.Kind != yaml.MappingNode {
				c.bad(path, e, "<< must merge mappings")
				return false
			}
			if !c.check(e, t, path) {
				return false
			}
		}
		return true
	}
	c.bad(path, v, "<< must merge a mapping or a list of mappings")
	return false
}

// yamlFields maps the YAML keys of struct type t to their types, inline
// fields included.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := make(map[string]reflect.Type)
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if strings.Contains(","+opts+",", ",inline,") {
			for k, v := range yamlFields(f.Type) {
				out[k] = v
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}
