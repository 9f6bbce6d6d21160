package stack

// The stores Stitch runs for real in its tests, benchmarks and demo. These are
// the only place their versions are pinned.
var components = []Component{
	{
		Name:    "victorialogs",
		Module:  "github.com/VictoriaMetrics/VictoriaLogs",
		Version: "v1.52.1",
		Package: "app/victoria-logs",
		Binary:  "victoria-logs",
		// go install works: the module has no replace directives.
		Method:    installModule,
		ColdBuild: "about 1 min",
	},
	{
		Name:      "prometheus",
		Module:    "github.com/prometheus/prometheus",
		Version:   "v0.316.0", // Prometheus 3.16.0
		Package:   "cmd/prometheus",
		Binary:    "prometheus",
		Method:    installModule,
		ColdBuild: "about 4-5 min",
	},
	{
		Name:    "jaeger",
		Module:  "github.com/jaegertracing/jaeger",
		Version: "v1.76.0", // Jaeger v2 (the v1.x module tag ships cmd/jaeger, the v2 binary)
		Package: "cmd/jaeger",
		Binary:  "jaeger",
		// Jaeger's go.mod has replace directives, which `go install pkg@v`
		// refuses; it is built as a tool of a small module of our own.
		Method:    toolModule,
		ColdBuild: "about 8-9 min",
	},
	{
		// The reference pipeline's collector: a small main over otelcol
		// with exactly the components it uses, in its own module inside
		// the repository (internal/stack/collector, go.sum committed).
		Name:      "collector",
		Module:    "go.opentelemetry.io/collector",
		Version:   CollectorRelease,
		Package:   "otelcol",
		Binary:    "stitch-collector",
		Method:    sourceModule,
		ColdBuild: "about 4.5 min",
	},
}
