package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
)

// runFunc runs one resource command (fender events, fender jobs) with env
// as its environment.
type runFunc func(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, err error)

func runner(cmd func(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error) runFunc {
	return func(t *testing.T, env map[string]string, args ...string) (string, string, error) {
		t.Helper()
		var out, errb bytes.Buffer
		err := cmd(context.Background(), args, func(k string) string { return env[k] }, &out, &errb)
		return out.String(), errb.String(), err
	}
}

// testToken checks the bearer token against an admin API at url that
// wants s3cret: a wrong one is reported with a hint, a missing one fails,
// and --token wins over the environment.
func testToken(t *testing.T, run runFunc, url string) {
	t.Helper()
	_, errOut, err := run(t, map[string]string{"FENDER_ADMIN_URL": url, "FENDER_ADMIN_TOKEN": "wrong"}, "list")
	if err == nil || exitCode(err) != exitRuntime || !errors.Is(err, errReported) {
		t.Fatalf("bad token: err %v (exit %d)", err, exitCode(err))
	}
	if !strings.Contains(errOut, "Unauthorized") || !strings.Contains(errOut, "FENDER_ADMIN_TOKEN") {
		t.Fatalf("bad token stderr: %q", errOut)
	}
	if _, _, err := run(t, nil, "list", "--admin", url); err == nil {
		t.Fatal("no token: no error")
	}
	if _, _, err := run(t, map[string]string{"FENDER_ADMIN_URL": url, "FENDER_ADMIN_TOKEN": "s3cret"}, "list"); err != nil {
		t.Fatalf("token from env: %v", err)
	}
	if _, _, err := run(t, map[string]string{"FENDER_ADMIN_TOKEN": "wrong"}, "list", "--admin", url, "--token", "s3cret"); err != nil {
		t.Fatalf("--token over env: %v", err)
	}
}

// testUsage checks that each of cases is a usage error, that help prints
// the usage (containing helpHas) and that list -h prints its flags
// (containing listHelpHas).
func testUsage(t *testing.T, name string, run runFunc, cases [][]string, helpHas, listHelpHas string) {
	t.Helper()
	for _, args := range cases {
		_, _, err := run(t, nil, args...)
		var ue *usageError
		if !errors.As(err, &ue) || exitCode(err) != exitUsage {
			t.Errorf("%s %q: err %v, want a usage error", name, args, err)
		}
	}
	if out, _, err := run(t, nil, "help"); err != nil || !strings.Contains(out, helpHas) {
		t.Fatalf("help: %v %q", err, out)
	}
	if _, errOut, err := run(t, nil, "list", "-h"); err != nil || !strings.Contains(errOut, listHelpHas) {
		t.Fatalf("list -h: %v %q", err, errOut)
	}
}

// testUnreachable checks that a closed admin API is a runtime error
// that says so.
func testUnreachable(t *testing.T, run runFunc) {
	t.Helper()
	ts := httptest.NewServer(nil)
	ts.Close()
	_, _, err := run(t, nil, "list", "--admin", ts.URL)
	if err == nil || exitCode(err) != exitRuntime || !strings.Contains(err.Error(), "cannot reach the admin API") {
		t.Fatalf("closed server: %v (exit %d)", err, exitCode(err))
	}
}
