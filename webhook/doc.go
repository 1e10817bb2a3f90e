// Package webhook verifies and produces the signatures that webhook providers
// put on their requests: Standard Webhooks (v1 HMAC-SHA256 and v1a ed25519),
// Stripe, GitHub, Shopify, Slack, and a configurable HMAC over the body.
//
// A Verifier is built once from a Config (NewVerifier validates it and
// decodes the secrets) and then checks each request's headers against the raw
// body bytes, with the current time passed in so that tolerance checks are
// testable. A Verifier is safe for concurrent use and, for the HMAC schemes,
// allocates nothing per request once warm: the signed prefix and the body are
// written to the MAC one after the other, never joined in a second buffer.
// (Standard v1a is the exception: ed25519 signs the whole message at once, so
// it is assembled in a pooled buffer.)
//
// Several secrets may be configured for rotation; a request passes when any
// one signature it carries matches any one secret. Timestamped schemes
// (standard, stripe, slack) reject messages older or newer than the
// tolerance, 5 minutes by default. Signature headers longer than 8 KiB, with
// more than 10 signature entries, or repeated are rejected as malformed.
//
// Failures wrap one of the sentinel errors (ErrNoSignature, ErrMalformed,
// ErrMismatch, ErrTimestampTooOld, ErrTimestampTooNew), so errors.Is works,
// and Reason maps them to short stable labels for metrics and logs. Errors
// never contain secrets or header values.
//
// The Sign functions produce valid signatures for every scheme. fender signs
// what it sends (deliveries to the application, async callbacks) with
// Standard Webhooks v1 through StandardSigner; the others exist for tests,
// demos and load generators.
package webhook
