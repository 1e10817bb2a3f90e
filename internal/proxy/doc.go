// Package proxy is fender's egress handler: {proxy}/{upstream}/{path} is
// sent to the upstream's URL through its resilience.Transport, with header
// hygiene, configured header injection, problem+json answers for failures
// fender answers itself, one log line per request, metrics and trace
// context. A Proxy is safe for concurrent use; Reload swaps upstreams
// atomically without dropping in-flight requests.
package proxy
