// Package open opens a store.Store by driver name, so the daemon can pick
// SQLite or PostgreSQL from its configuration without importing both
// drivers itself. It lives apart from package store so the drivers can
// import store without a cycle.
package open
