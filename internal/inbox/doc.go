// Package inbox is fender's webhook listener (PRODUCT.md §5): it receives
// POST {source.path} from providers, bounds the body by the source's
// max_body (413), verifies the signature over the raw bytes with the
// webhook package (401, nothing stored), extracts the event id (a header
// or a JSON body path, else the body's SHA-256) and the resource key, and
// commits the event through store.Store.Ingest before answering
// 200 {"id": "<fender id>", "duplicate": false}. A (source, event id)
// already stored answers 200 with Fender-Duplicate: true and the existing
// id; a store that cannot commit answers 503 with Retry-After, so the
// provider retries: the inbox never acknowledges what is not durable.
//
// The handler serves only the configured paths (404 otherwise) and POST
// (405 otherwise). Every request produces one JSON log line ("webhook")
// and, for a known source, one increment of
// fender_webhooks_received_total{source,result}; see the Result constants
// for the result values, a failed signature being
// "rejected_<webhook.Reason>".
//
// Body ids are found by a single forward scan (lookup) that does not build
// the document; numbers keep their literal text. Read buffers are pooled.
//
// An Inbox is safe for concurrent use. Reload swaps the whole source table
// atomically while requests are being served.
package inbox
