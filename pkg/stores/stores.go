// Package stores defines the store-neutral interfaces the correlation engine
// talks to. Each store adapter (Jaeger, Tempo, VictoriaLogs, Loki, Prometheus)
// lives in its own sub-package and implements the interface of its role.
package stores

import "context"

// HealthChecker checks a store through the same query path real queries take,
// not a ping: a store that answers its liveness endpoint but cannot run a
// query is not healthy.
type HealthChecker interface {
	// CheckHealth returns a short, user-facing detail on success
	// (e.g. "12 services").
	CheckHealth(ctx context.Context) (string, error)
}

// TraceStore holds traces (Jaeger or Tempo).
type TraceStore interface {
	HealthChecker
}

// LogStore holds log records (VictoriaLogs or Loki).
type LogStore interface {
	HealthChecker
}

// MetricStore holds metrics and exemplars (Prometheus).
type MetricStore interface {
	HealthChecker
}
