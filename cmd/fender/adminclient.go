package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// The admin API client and the flag, time and output helpers shared by
// the operator commands (fender events, fender jobs).

// bodyText renders a body from the admin API for a terminal: JSON indented, text with
// control characters (other than newline and tab) replaced.
func bodyText(body json.RawMessage, b64 string) string {
	if b64 != "" {
		return "(not valid UTF-8; base64) " + b64
	}
	var s string
	if err := json.Unmarshal(body, &s); err != nil {
		var buf bytes.Buffer
		if json.Indent(&buf, body, "", "  ") != nil {
			return string(body)
		}
		s = buf.String()
	}
	if s == "" {
		return "(empty)"
	}
	return strings.Map(func(r rune) rune {
		if r != '\n' && r != '\t' && unicode.IsControl(r) {
			return '?'
		}
		return r
	}, s)
}

// parseTimeFlag reads an RFC 3339 time or a duration back from now.
func parseTimeFlag(v string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return now.Add(-d).Truncate(time.Second), nil
	}
	return time.Time{}, errors.New("want an RFC 3339 time (2030-01-02T15:04:05Z) or a duration back from now (24h)")
}

func formatTime(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// printable makes s safe for one table cell: control characters (newlines,
// escape sequences from a provider's payload) become spaces, and it is cut
// to max runes (0 = no limit) with an ellipsis.
func printable(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	if max > 0 && utf8.RuneCountInString(s) > max {
		s = string([]rune(s)[:max-1]) + "…"
	}
	return s
}

func writeIndented(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// newFlagSet returns a flag set for `fender <name>` whose -h prints synopsis.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: fender %s %s\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses flags and positional arguments in any order (so
// `show ID --json` works; "--" ends the flags) and returns the positional
// ones. -h returns flag.ErrHelp; any other mistake is a usageError.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, &usageError{fs.Name() + ": " + err.Error()}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			return append(pos, rest...), nil
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
}

// defaultAdminURL is where `fender serve` listens for the admin API by
// default.
const defaultAdminURL = "http://127.0.0.1:9090"

// adminFlags are the --admin and --token flags of every operator command.
type adminFlags struct{ url, token string }

func (a *adminFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&a.url, "admin", "", "admin API base URL (default $FENDER_ADMIN_URL, else "+defaultAdminURL+")")
	// No default shown: -h must not print the token from the environment.
	fs.StringVar(&a.token, "token", "", "admin bearer token (default $FENDER_ADMIN_TOKEN)")
}

// client applies the environment defaults and returns the API client.
func (a *adminFlags) client(getenv func(string) string) (*adminClient, error) {
	base := a.url
	if base == "" {
		base = getenv("FENDER_ADMIN_URL")
	}
	if base == "" {
		base = defaultAdminURL
	}
	token := a.token
	if token == "" {
		token = getenv("FENDER_ADMIN_TOKEN")
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, &usageError{fmt.Sprintf("--admin %q: want an http(s) URL like %s", base, defaultAdminURL)}
	}
	return &adminClient{
		base:  strings.TrimRight(u.String(), "/"),
		token: token,
		hc:    &http.Client{Timeout: time.Minute},
	}, nil
}

// adminClient calls fender's admin API (JSON in and out, RFC 9457
// problems as *apiError). Safe for concurrent use.
type adminClient struct {
	base  string // scheme://host[/prefix], no trailing slash
	token string // sent as a bearer token when not empty
	hc    *http.Client
}

// get decodes the answer of GET path (with its query) into v.
func (c *adminClient) get(ctx context.Context, path string, v any) error {
	return c.do(ctx, http.MethodGet, path, nil, v)
}

// post sends body as JSON (no body when nil) and decodes the answer into v.
func (c *adminClient) post(ctx context.Context, path string, body, v any) error {
	return c.do(ctx, http.MethodPost, path, body, v)
}

func (c *adminClient) do(ctx context.Context, method, path string, body, v any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach the admin API at %s (is fender serve running? see --admin): %w", c.base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return readProblem(resp)
	}
	if v == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("admin API %s %s: unreadable answer: %w", method, req.URL.Path, err)
	}
	return nil
}

// apiError is an error answer of the admin API.
type apiError struct {
	Status int
	Title  string
	Detail string
}

func (e *apiError) Error() string { return fmt.Sprintf("admin API: %d %s", e.Status, e.message()) }

func (e *apiError) message() string {
	if e.Detail == "" {
		return e.Title
	}
	return e.Title + ": " + e.Detail
}

// readProblem turns an error response into an *apiError, from its RFC 9457
// body when it has one, else from the status and the start of the body.
func readProblem(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	e := &apiError{Status: resp.StatusCode}
	var p struct{ Title, Detail string }
	if json.Unmarshal(b, &p) == nil && p.Title != "" {
		e.Title, e.Detail = p.Title, p.Detail
	} else {
		e.Title = http.StatusText(resp.StatusCode)
		e.Detail = printable(strings.TrimSpace(string(b)), 200)
	}
	e.Title, e.Detail = printable(e.Title, 200), printable(e.Detail, 500)
	return e
}

// reportAPIError prints an admin API error for the operator and marks it
// reported (exit 1); other errors pass through to main.
func reportAPIError(stderr io.Writer, err error) error {
	var ae *apiError
	if !errors.As(err, &ae) {
		return err
	}
	fmt.Fprintf(stderr, "fender: %s (HTTP %d)\n", ae.message(), ae.Status)
	if ae.Status == http.StatusUnauthorized {
		fmt.Fprintln(stderr, "fender: check --token or FENDER_ADMIN_TOKEN against admin.token in the config")
	}
	return &reportedError{err: err, code: exitRuntime}
}
