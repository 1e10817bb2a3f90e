package webhook

import "errors"

// Sentinel errors. Verify wraps exactly one of the first five with context
// (the scheme and the header concerned), so test with errors.Is.
var (
	// ErrNoSignature: a required header (signature, timestamp or id) is absent
	// or empty, or the signature header carries no entry of a known version.
	ErrNoSignature = errors.New("missing signature")
	// ErrMalformed: a header is present but cannot be parsed: bad encoding,
	// wrong prefix, wrong length, empty or too many entries, too long, repeated.
	ErrMalformed = errors.New("malformed signature")
	// ErrMismatch: the headers parse but no signature matches any secret.
	ErrMismatch = errors.New("signature mismatch")
	// ErrTimestampTooOld: the signature matches but its timestamp is older
	// than the tolerance (a replay, or a slow clock at the sender).
	ErrTimestampTooOld = errors.New("timestamp too old")
	// ErrTimestampTooNew: the signature matches but its timestamp is further
	// in the future than the tolerance.
	ErrTimestampTooNew = errors.New("timestamp too new")
	// ErrInvalidConfig: NewVerifier, Sign or a signer was given a config or
	// secret it cannot use.
	ErrInvalidConfig = errors.New("invalid webhook config")
)

// Reason returns a short stable label for err, for metrics and log fields:
// "missing_signature", "malformed", "mismatch", "stale_timestamp",
// "future_timestamp", "invalid_config", "error" for anything else, and ""
// for nil.
func Reason(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrNoSignature):
		return "missing_signature"
	case errors.Is(err, ErrMalformed):
		return "malformed"
	case errors.Is(err, ErrMismatch):
		return "mismatch"
	case errors.Is(err, ErrTimestampTooOld):
		return "stale_timestamp"
	case errors.Is(err, ErrTimestampTooNew):
		return "future_timestamp"
	case errors.Is(err, ErrInvalidConfig):
		return "invalid_config"
	default:
		return "error"
	}
}
