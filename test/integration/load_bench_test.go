//go:build integration

package integration

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend/httpclient"
	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/stretchr/testify/require"

	"github.com/stitch-observability/stitch/internal/demoworld"
	"github.com/stitch-observability/stitch/internal/pluginharness"
)

// Load: how the plugin holds up under many panels at once.
const (
	loadWorkers = 50
	// loadDuration is how long the load runs; STITCH_LOAD_SECONDS shortens
	// it for a quick look.
	loadDuration = 60 * time.Second
)

// loadQueries are the mixed queries of the load, one per query type; a
// worker picks one at random each time, with a random session or trace of
// the world where the type needs one.
func loadQueries(gt *demoworld.GroundTruth) map[string]func(r *rand.Rand) map[string]any {
	var traces []string
	for _, req := range gt.Requests {
		for _, at := range req.Attempts {
			if at.Propagation == demoworld.PropagationPropagated && at.BackendTraceID != "" {
				traces = append(traces, at.BackendTraceID)
			}
		}
	}
	fixed := func(m map[string]any) func(*rand.Rand) map[string]any {
		return func(*rand.Rand) map[string]any { return m }
	}
	return map[string]func(r *rand.Rand) map[string]any{
		"sessions": fixed(map[string]any{"queryType": "sessions", "appService": gt.App.ServiceName}),
		"sessionTimeline": func(r *rand.Rand) map[string]any {
			return map[string]any{"queryType": "sessionTimeline", "sessionId": gt.Sessions[r.IntN(len(gt.Sessions))].ID}
		},
		"traceToSession": func(r *rand.Rand) map[string]any {
			return map[string]any{"queryType": "traceToSession", "traceId": traces[r.IntN(len(traces))]}
		},
		"latencyBreakdown":  fixed(map[string]any{"queryType": "latencyBreakdown", "groupBy": []string{"endpoint"}}),
		"errorCascades":     fixed(map[string]any{"queryType": "errorCascades"}),
		"propagationHealth": fixed(map[string]any{"queryType": "propagationHealth"}),
		"sessionMetrics":    fixed(map[string]any{"queryType": "sessionMetrics", "metric": "errorSessionRatio"}),
	}
}

// processFigures are what the plugin process reports of itself: goroutines
// from its own Prometheus registry (CollectMetrics over gRPC, as Grafana
// scrapes a plugin), threads and resident memory from /proc.
type processFigures struct {
	goroutines, threads int
	rssKiB              int
}

func pluginFigures(tb testing.TB) processFigures {
	tb.Helper()
	var f processFigures
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := grafana.CollectMetrics(ctx)
	require.NoError(tb, err)
	sc := bufio.NewScanner(bytes.NewReader(m))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_goroutines "); ok {
			n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			require.NoError(tb, err)
			f.goroutines = int(n)
		}
	}
	require.Positive(tb, f.goroutines, "go_goroutines in the plugin's metrics")
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", grafana.PID()))
	if err != nil {
		return f // not Linux: goroutines only
	}
	for _, line := range strings.Split(string(status), "\n") {
		k, v, _ := strings.Cut(line, ":")
		fields := strings.Fields(v)
		if len(fields) == 0 {
			continue
		}
		switch k {
		case "Threads":
			f.threads, _ = strconv.Atoi(fields[0])
		case "VmRSS":
			f.rssKiB, _ = strconv.Atoi(fields[0])
		}
	}
	return f
}

// runLoad runs workers that each send one query at a time, of a random
// type, until the deadline; it returns every query's time by type and the
// failures.
func runLoad(gt *demoworld.GroundTruth, inst pluginharness.Instance, workers int, d time.Duration) (map[string][]time.Duration, []string) {
	qs := loadQueries(gt)
	types := make([]string, 0, len(qs))
	for t := range qs {
		types = append(types, t)
	}
	slices.Sort(types)
	var (
		mu       sync.Mutex
		times    = map[string][]time.Duration{}
		failures []string
		wg       sync.WaitGroup
		stop     atomic.Bool
	)
	time.AfterFunc(d, func() { stop.Store(true) })
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for !stop.Load() {
				typ := types[r.IntN(len(types))]
				from, to := worldRange(gt)
				q, err := pluginharness.Query("A", qs[typ](r), from, to)
				if err != nil {
					panic(err)
				}
				if typ == "sessionMetrics" {
					q.Interval = time.Minute
				}
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				start := time.Now()
				res, err := grafana.QueryData(ctx, inst, q)
				took := time.Since(start)
				cancel()
				mu.Lock()
				times[typ] = append(times[typ], took)
				switch {
				case err != nil:
					failures = append(failures, fmt.Sprintf("%s: %v", typ, err))
				case res.Responses["A"].Error != nil:
					failures = append(failures, fmt.Sprintf("%s: %v", typ, res.Responses["A"].Error))
				default:
					// A store that failed or timed out under the load is
					// a failure too, even though the answer is partial.
					if ns := storeFaultNotices(res.Responses["A"].Frames); len(ns) > 0 {
						failures = append(failures, fmt.Sprintf("%s: %s", typ, ns[0]))
					}
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return times, failures
}

func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// BenchmarkLoadMixed: 50 concurrent queries of every type, against the real
// stack holding the demo world (and the other app's), for 60 s. No query
// may fail, and the plugin process may not keep goroutines it did not have
// before (measured after a warm-up of the same concurrency, so connection
// pools are already full, and after the load once idle connections had a
// moment to settle). Reports the p50/p99/max query time and the process's
// goroutines, threads and RSS before and after. A benchmark, so CI's test
// run does not pay for it; `go tool mage bench` runs it.
func BenchmarkLoadMixed(b *testing.B) {
	gt := sharedWorld(b)
	d := loadDuration
	if s := os.Getenv("STITCH_LOAD_SECONDS"); s != "" {
		n, err := strconv.Atoi(s)
		require.NoError(b, err)
		d = time.Duration(n) * time.Second
	}
	// The stores share the machine's cores with 50 queries at once: they
	// queue, so the load gives them a minute before a query counts as failed.
	settings := stackSettings()
	for _, role := range []string{"traces", "logs", "metrics"} {
		settings[role].(map[string]any)["timeoutSeconds"] = 60
	}
	inst := newInstance(b, settings, nil)
	for b.Loop() {
		_, failures := runLoad(gt, inst, loadWorkers, 3*time.Second) // warm-up
		require.Empty(b, failures, "warm-up")
		time.Sleep(2 * time.Second)
		before := pluginFigures(b)

		start := time.Now()
		times, failures := runLoad(gt, inst, loadWorkers, d)
		elapsed := time.Since(start)

		// Goroutines a finished query leaves behind end within moments;
		// the keep-alive connections the load opened to the stores (two
		// goroutines each) close once idle for the SDK's IdleConnTimeout
		// (90 s). A goroutine still there after that was kept.
		after := pluginFigures(b)
		for deadline := time.Now().Add(httpclient.DefaultTimeoutOptions.IdleConnTimeout + 10*time.Second); after.goroutines > before.goroutines && time.Now().Before(deadline); {
			time.Sleep(500 * time.Millisecond)
			after = pluginFigures(b)
		}

		var all []time.Duration
		for typ, ts := range times {
			slices.Sort(ts)
			all = append(all, ts...)
			b.Logf("%-18s %5d queries, p50 %6s, p99 %6s, max %6s", typ, len(ts),
				quantile(ts, 0.5).Round(time.Millisecond), quantile(ts, 0.99).Round(time.Millisecond), ts[len(ts)-1].Round(time.Millisecond))
		}
		slices.Sort(all)
		p50, p99, worst := quantile(all, 0.5), quantile(all, 0.99), all[len(all)-1]
		b.Logf("LOAD: %d workers for %s: %d queries (%.1f/s), %d failed; p50 %s, p99 %s, max %s", loadWorkers, elapsed.Round(time.Second),
			len(all), float64(len(all))/elapsed.Seconds(), len(failures), p50.Round(time.Millisecond), p99.Round(time.Millisecond), worst.Round(time.Millisecond))
		b.Logf("LOAD: plugin process (pid %d) goroutines %d → %d, threads %d → %d, RSS %.1f → %.1f MiB",
			grafana.PID(), before.goroutines, after.goroutines, before.threads, after.threads, float64(before.rssKiB)/1024, float64(after.rssKiB)/1024)

		b.ReportMetric(float64(len(all)), "queries")
		b.ReportMetric(float64(len(all))/elapsed.Seconds(), "queries/s")
		b.ReportMetric(float64(p50)/1e6, "p50-ms")
		b.ReportMetric(float64(p99)/1e6, "p99-ms")
		b.ReportMetric(float64(worst)/1e6, "max-ms")
		b.ReportMetric(float64(len(failures)), "failed")
		b.ReportMetric(float64(before.goroutines), "goroutines-before")
		b.ReportMetric(float64(after.goroutines), "goroutines-after")
		b.ReportMetric(float64(after.goroutines-before.goroutines), "goroutine-growth")
		b.ReportMetric(float64(before.threads), "threads-before")
		b.ReportMetric(float64(after.threads), "threads-after")
		b.ReportMetric(float64(before.rssKiB)/1024, "rss-MiB-before")
		b.ReportMetric(float64(after.rssKiB)/1024, "rss-MiB-after")

		if len(failures) > 0 {
			b.Fatalf("%d of %d queries failed; first: %s", len(failures), len(all), failures[0])
		}
		if after.goroutines > before.goroutines {
			b.Fatalf("the plugin kept %d goroutines more than before the load (%d → %d)", after.goroutines-before.goroutines, before.goroutines, after.goroutines)
		}
	}
	// Wall-clock figures only: ns/op of one 60 s run says nothing.
	b.ReportMetric(0, "ns/op")
}

// storeFaultNotices are the notices whose cause is a store (failed, timed
// out, partial), from the frames' custom metadata; a notice about the
// query itself (a sample, a limit) is not a fault of the load.
func storeFaultNotices(fs data.Frames) []string {
	var out []string
	for _, f := range fs {
		if f.Meta == nil {
			continue
		}
		custom, _ := f.Meta.Custom.(map[string]any)
		notices, _ := custom["notices"].([]any)
		for _, n := range notices {
			if m, ok := n.(map[string]any); ok && m["cause"] == "store" {
				out = append(out, fmt.Sprint(m["text"]))
			}
		}
	}
	return out
}
