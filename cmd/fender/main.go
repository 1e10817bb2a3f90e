// Command fender is the reliability gateway for third-party APIs: an egress
// proxy with per-upstream policies, a durable webhook inbox, and the
// telemetry to see what failed and why. main only wires packages together.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/fender-dev/fender/internal/config"
)

func main() {
	err := run(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	if err != nil && !errors.Is(err, errReported) {
		fmt.Fprintln(os.Stderr, "fender:", err)
	}
	os.Exit(exitCode(err))
}

// Exit codes of PRODUCT.md §2, mapped in one place.
const (
	exitOK      = 0
	exitRuntime = 1
	exitUsage   = 2
)

// usageError is a wrong command line.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// errReported means the error was already printed in full.
var errReported = errors.New("reported")

type reportedError struct {
	err  error
	code int
}

func (e *reportedError) Error() string { return e.err.Error() }
func (e *reportedError) Is(t error) bool {
	return t == errReported
}

func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var re *reportedError
	if errors.As(err, &re) {
		return re.code
	}
	var ue *usageError
	var ve *config.ValidationError
	if errors.As(err, &ue) || errors.As(err, &ve) {
		return exitUsage
	}
	return exitRuntime
}

const usage = `fender — a reliability gateway for third-party APIs

Usage:
  fender serve   [-c fender.yaml]   run the gateway
  fender check   [-c fender.yaml]   validate a config and print the effective one, secrets masked
  fender events  list|show|replay   inspect and replay inbox events over the admin API
  fender jobs    list|show|replay   inspect and replay async jobs over the admin API
  fender version                    version, commit and Go version

Exit codes: 0 ok, 1 runtime error, 2 usage or config error.
`

// run is the whole program: args without the program name, the
// environment, and where to write.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return &usageError{"no command given"}
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "serve":
		return serve(ctx, rest, getenv, stdout, stderr)
	case "check":
		return check(rest, getenv, stdout, stderr)
	case "events":
		return eventsCmd(ctx, rest, getenv, stdout, stderr)
	case "jobs":
		return jobsCmd(ctx, rest, getenv, stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, versionString())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return &usageError{fmt.Sprintf("unknown command %q", cmd)}
	}
}
