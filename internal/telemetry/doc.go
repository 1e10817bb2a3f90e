// Package telemetry sets up fender's logs (log/slog), Prometheus metrics and
// OpenTelemetry tracing. Nothing here is global: the process builds one
// Telemetry and hands its parts to the packages that record.
package telemetry
