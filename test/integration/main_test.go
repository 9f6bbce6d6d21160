//go:build integration

// Package integration runs Stitch end to end: the plugin binary started and
// called over gRPC as Grafana does (internal/pluginharness), against the real
// stores of one local stack shared by the whole test run (internal/stack).
// Run with: go test -tags integration ./test/integration/...
package integration

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stitch-observability/stitch/internal/pluginharness"
	"github.com/stitch-observability/stitch/internal/stack"
)

// grafana is the plugin process, called as Grafana calls it.
var (
	theStack  *stack.Stack
	grafana   *pluginharness.Plugin
	pluginBin string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()

	start := time.Now()
	s, release, err := stack.ForTests(ctx, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration: no stack:", err)
		return 1
	}
	defer release()
	defer stopScaleStack()
	theStack = s
	fmt.Printf("integration: stack ready in %s\n", time.Since(start).Round(time.Millisecond))

	root, err := pluginharness.ModuleRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	binDir, err := os.MkdirTemp("", "stitch-plugin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(binDir)
	if pluginBin, err = pluginharness.Build(ctx, root, binDir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if grafana, err = pluginharness.Start(pluginBin); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer grafana.Stop()
	return m.Run()
}

// storeJSON is a store's settings as the ConfigEditor writes them. The
// timeout leaves room for a loaded 2-core machine running the suite with
// the race detector (the Tempo and Loki doubles live in the test binary);
// tests of timeouts set their own.
func storeJSON(kind, url string) map[string]any {
	return map[string]any{"kind": kind, "url": url, "timeoutSeconds": 20}
}

// stackSettings configures all three stores of the shared stack.
func stackSettings() map[string]any {
	return map[string]any{
		"traces":  storeJSON("jaeger", theStack.JaegerURL()),
		"logs":    storeJSON("victorialogs", theStack.VictoriaLogsURL()),
		"metrics": storeJSON("prometheus", theStack.PrometheusURL()),
	}
}

func newInstance(t testing.TB, jsonData map[string]any, secure map[string]string) pluginharness.Instance {
	t.Helper()
	inst, err := pluginharness.NewInstance(jsonData, secure)
	if err != nil {
		t.Fatal(err)
	}
	return inst
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}
