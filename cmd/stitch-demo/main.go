// Command stitch-demo is Stitch's main job on a developer machine: it builds
// and starts the local stack of real stores, starts the plugin binary the way
// Grafana does, and prints what the plugin reports over gRPC.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/stitch-observability/stitch/internal/pluginharness"
	"github.com/stitch-observability/stitch/internal/stack"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "stitch-demo:", err)
		os.Exit(1)
	}
}

func phase(name string) func() {
	start := time.Now()
	fmt.Printf("\n== %s\n", name)
	return func() { fmt.Printf("   (%s took %s)\n", name, time.Since(start).Round(time.Millisecond)) }
}

func run(ctx context.Context) error {
	total := time.Now()

	done := phase("stack: build what is missing and start Jaeger, VictoriaLogs, Prometheus")
	s, err := stack.EnsureDefault(ctx, os.Stdout)
	if err != nil {
		return err
	}
	done()

	done = phase("plugin: build the backend binary and start it over gRPC as Grafana does")
	root, err := pluginharness.ModuleRoot()
	if err != nil {
		return err
	}
	binDir := filepath.Join(stack.CacheDir(), "demo")
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return err
	}
	bin, err := pluginharness.Build(ctx, root, binDir)
	if err != nil {
		return err
	}
	grafana, err := pluginharness.Start(bin)
	if err != nil {
		return err
	}
	defer grafana.Stop()
	done()

	done = phase("health: CheckHealth through each store's query path")
	inst, err := pluginharness.NewInstance(map[string]any{
		"traces":  map[string]any{"kind": "jaeger", "url": s.JaegerURL()},
		"logs":    map[string]any{"kind": "victorialogs", "url": s.VictoriaLogsURL()},
		"metrics": map[string]any{"kind": "prometheus", "url": s.PrometheusURL()},
	}, nil)
	if err != nil {
		return err
	}
	res, err := grafana.CheckHealth(ctx, inst)
	if err != nil {
		return err
	}
	for _, line := range strings.Split(res.Message, "\n") {
		fmt.Println("  ", line)
	}
	done()

	fmt.Printf("\nDone in %s. The stack keeps running: `go tool mage stack:status`, `go tool mage stack:down`.\n",
		time.Since(total).Round(time.Millisecond))
	if res.Status != backend.HealthStatusOk {
		return fmt.Errorf("not every store is healthy")
	}
	return nil
}
