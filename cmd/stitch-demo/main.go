// Command stitch-demo is Stitch's main job on a developer machine: it builds
// and starts the local stack of real stores, starts the plugin binary the way
// Grafana does, and prints what the plugin reports over gRPC.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/stitch-observability/stitch/internal/demoworld"
	"github.com/stitch-observability/stitch/internal/pluginharness"
	"github.com/stitch-observability/stitch/internal/stack"
	"github.com/stitch-observability/stitch/internal/textview"
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
	// A fresh seed each run by default: the same seed sent twice to stores
	// that keep data would merge its traces with the earlier run's.
	seed := flag.Int64("seed", time.Now().UnixNano()%1_000_000_000, "demo world seed (the same seed gives the same world)")
	sessions := flag.Int("sessions", demoworld.DefaultSessions, "demo world size in app sessions")
	direct := flag.Bool("direct", false, "send the world straight to the stores, bypassing the collector")
	flag.Parse()
	total := time.Now()

	done := phase("stack: build what is missing and start Jaeger, VictoriaLogs, Prometheus, then the collector in front of them")
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

	if res.Status != backend.HealthStatusOk {
		return fmt.Errorf("not every store is healthy")
	}

	targets := demoworld.StackTargets(s, *direct)
	path := "through the collector " + targets.Collector + " (reference pipeline: tail sampling by session, redaction, request histograms, persistent queues)"
	if targets.Collector == "" {
		path = "straight to the stores (no collector in the path)"
	}
	done = phase(fmt.Sprintf("demo world: %d iOS sessions and 5 backend services sending OTLP %s (seed %d)", *sessions, path, *seed))
	gt, err := demoworld.Run(ctx, demoworld.Config{Seed: *seed, Sessions: *sessions, OutDir: filepath.Join(stack.CacheDir(), "world")}, targets, os.Stdout)
	if err != nil {
		return err
	}
	done()

	done = phase("proof of arrival: what each store holds against the ground truth")
	if _, err := demoworld.ProveArrival(ctx, gt, targets, os.Stdout); err != nil {
		return err
	}
	done()

	// Device clocks may be minutes off: the window leaves room for them.
	from, to := gt.Run.Started.Add(-10*time.Minute), gt.Run.Finished.Add(10*time.Minute)

	done = phase("sessions: the demo world's sessions, top 10 by errors (QueryData over gRPC)")
	frames, err := query(ctx, grafana, inst, map[string]any{"queryType": "sessions", "appService": gt.App.ServiceName, "orderBy": "errors", "limit": 10}, from, to)
	if err != nil {
		return err
	}
	sessionsFrame := frames[0]
	matching := sessionsFrame.Rows()
	if custom, ok := sessionsFrame.Meta.Custom.(map[string]any); ok {
		if n, ok := custom["total"].(float64); ok {
			matching = int(n)
		}
	}
	fmt.Printf("   %d sessions of %s in the window (counted by the log store); the %d with the most errors:\n", matching, gt.App.ServiceName, sessionsFrame.Rows())
	fmt.Println(indent(textview.SessionsTable(sessionsFrame, 10)))
	printNotices(frames)
	done()

	if len(gt.Faults.Cascade.Sessions) > 0 {
		id := gt.Faults.Cascade.Sessions[0]
		done = phase(fmt.Sprintf("waterfall of the error-cascade session %s (sessionTimeline over gRPC)", id))
		frames, err := query(ctx, grafana, inst, map[string]any{"queryType": "sessionTimeline", "sessionId": id}, from, to)
		if err != nil {
			return err
		}
		for _, f := range frames {
			if f.Name == "waterfall" {
				fmt.Println(indent(textview.Waterfall(f, 40, 60)))
			}
			if f.Name == "timeline" || f.Name == "logs" {
				fmt.Printf("   %s frame: %d rows\n", f.Name, f.Rows())
			}
		}
		printNotices(frames)
		done()
	}

	done = phase("overview headline numbers (latencyBreakdown, errorCascades, propagationHealth over gRPC)")
	if err := headlines(ctx, grafana, inst, from, to); err != nil {
		return err
	}
	done()

	fmt.Printf("\nDone in %s. Ground truth: %s\nThe stack keeps running: `go tool mage stack:status`, `go tool mage stack:down`.\n",
		time.Since(total).Round(time.Millisecond), gt.Run.File)
	return nil
}

// headlines prints the overview dashboard's headline numbers from frames
// the plugin returned: the top cascade, the slowest endpoint, the worst
// propagation host.
func headlines(ctx context.Context, grafana *pluginharness.Plugin, inst pluginharness.Instance, from, to time.Time) error {
	cell := func(f *data.Frame, name string) any {
		fl, _ := f.FieldByName(name)
		if fl == nil || fl.Len() == 0 {
			return nil
		}
		v := fl.At(0)
		if p, ok := v.(*float64); ok && p != nil {
			return *p
		}
		return v
	}
	fs, err := query(ctx, grafana, inst, map[string]any{"queryType": "errorCascades"}, from, to)
	if err != nil {
		return err
	}
	if f := fs[0]; f.Rows() > 0 {
		fmt.Printf("   top cascade:        %v× %v (root cause %v; first error log: %v)\n", cell(f, "count"), cell(f, "services"), cell(f, "rootCause"), cell(f, "firstErrorLog"))
	}
	fs, err = query(ctx, grafana, inst, map[string]any{"queryType": "latencyBreakdown", "groupBy": []string{"endpoint"}}, from, to)
	if err != nil {
		return err
	}
	if f := fs[0]; f.Rows() > 0 {
		fmt.Printf("   slowest endpoint:   %v — server p95 %.0f ms, client p95 %.0f ms, mean network %.0f ms over %v requests\n",
			cell(f, "endpoint"), cell(f, "serverP95"), cell(f, "clientP95"), cell(f, "networkMean"), cell(f, "requests"))
	}
	fs, err = query(ctx, grafana, inst, map[string]any{"queryType": "propagationHealth"}, from, to)
	if err != nil {
		return err
	}
	for _, f := range fs {
		if f.Name == "propagationByHost" && f.Rows() > 0 {
			fmt.Printf("   worst propagation:  %v — %.0f%% of its requests continue into a backend trace (example orphan trace %v)\n",
				cell(f, "host"), 100*cell(f, "coverage").(float64), cell(f, "exampleOrphanTraceId"))
		}
	}
	return nil
}

// query runs one query through the plugin over gRPC and returns its frames,
// or the query's error.
func query(ctx context.Context, grafana *pluginharness.Plugin, inst pluginharness.Instance, model map[string]any, from, to time.Time) (data.Frames, error) {
	q, err := pluginharness.Query("A", model, from, to)
	if err != nil {
		return nil, err
	}
	res, err := grafana.QueryData(ctx, inst, q)
	if err != nil {
		return nil, err
	}
	r := res.Responses["A"]
	if r.Error != nil {
		return nil, fmt.Errorf("%s query: %w", model["queryType"], r.Error)
	}
	if len(r.Frames) == 0 {
		return nil, fmt.Errorf("%s query returned no frames", model["queryType"])
	}
	return r.Frames, nil
}

func printNotices(frames data.Frames) {
	for _, f := range frames {
		if f.Meta == nil {
			continue
		}
		for _, n := range f.Meta.Notices {
			fmt.Printf("   notice (%s): %s\n", n.Severity, n.Text)
		}
	}
}

func indent(s string) string {
	return "   " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n   ")
}
