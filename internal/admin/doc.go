// Package admin serves the operator listener: the admin API (JSON, RFC 9457
// errors, bearer token), /metrics, /healthz, /readyz and the dashboard.
package admin
