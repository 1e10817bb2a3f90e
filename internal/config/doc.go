// Package config loads, checks and prints fender's configuration
// (fender.yaml, PRODUCT.md §3).
//
// The whole file is one struct, Config. Default returns the configuration
// fender runs with when there is no file: the listeners on loopback, SQLite
// at ./fender.db, no upstreams and no sources. Load and Parse read YAML on
// top of those defaults:
//
//   - ${VAR} and ${VAR:-default} are expanded from the getenv function
//     given (nil means no variables) before parsing; "$$" is a literal "$";
//   - keys absent from the file keep their defaults, and a key written empty
//     is empty: an empty listen.admin does not open the admin listener;
//     each upstream and source starts from DefaultUpstream and DefaultSource;
//   - durations are written "250ms", "5s", "2h" (a bare number is an error,
//     never nanoseconds), percentages "20%", sizes "1MiB";
//   - unknown keys are errors;
//   - Validate lists every problem, each with its key and, when the config
//     came from a file, its line, as a *ValidationError.
//
// The per-upstream resilience policy is resilience.Policy, inlined in
// Upstream, so the proxy passes it to resilience.New as it is.
//
// Masked and WriteEffective print a config with its secrets (upstream
// header values, admin.token, verify and signing secrets, passwords in
// URLs and DSNs) replaced by "****", as `fender check` shows it.
//
// The zero Config is not valid (no listeners, no storage driver); start from
// Default. Load and Parse share no state and are safe to call concurrently.
// A Config returned by them must be treated as read-only: several goroutines
// may read it, and a reload builds a new one rather than changing it.
package config
