package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/stitch-observability/stitch/internal/demoworld"
	"github.com/stitch-observability/stitch/internal/scaleworld"
)

type scaleRun struct {
	targets  demoworld.Targets
	out      string
	planOnly bool
	prove    bool
	wait     time.Duration
}

// runScale plans a scale world, writes its ground truth, sends it straight
// to the stores and waits until they answer for all of it.
func runScale(ctx context.Context, cfg scaleworld.Config, r scaleRun) error {
	t0 := time.Now()
	w, err := scaleworld.Plan(cfg)
	if err != nil {
		return err
	}
	truth := w.Truth()
	if r.planOnly {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", " ")
		return enc.Encode(truth)
	}
	if cfg.Window > 3*time.Hour {
		fmt.Fprintln(os.Stderr, "stitch-world: warning: the local stack's Prometheus accepts samples up to 3h old (out_of_order_time_window); older histogram points will be refused")
	}
	path, err := scaleworld.WriteTruth(truth, r.out)
	if err != nil {
		return err
	}
	a := truth.Aggregates
	fmt.Printf("scale world: app %s, run %s, seed %d: %d sessions (%d with an error, %d ended), %d requests (%d failed), window %s .. %s\n",
		truth.App, truth.RunID, truth.Seed, a.TotalSessions, a.SessionsWithError, a.SessionsWithEnd, a.TotalRequests, a.FailedRequests,
		truth.WindowStart.Format(time.RFC3339), truth.WindowEnd.Format(time.RFC3339))
	fmt.Printf("ground truth: %s (planned in %s)\n", path, time.Since(t0).Round(time.Millisecond))
	fmt.Printf("targets (direct, no collector): traces %s, logs %s, metrics %s, trace query %s\n", r.targets.JaegerOTLPHTTP, r.targets.VictoriaLogs, r.targets.Prometheus, r.targets.JaegerQuery)

	sctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	defer cancel()
	st, err := scaleworld.SendWith(sctx, w, r.targets, scaleworld.SendOptions{Progress: os.Stdout})
	if err != nil {
		return err
	}
	fmt.Printf("sent %d spans, %d log records, %d histogram points in %d requests (%.1f MB) in %s\n",
		st.Spans, st.LogRecords, st.DataPoints, st.Requests, float64(st.Bytes)/1e6, st.Took.Round(time.Millisecond))
	if !r.prove {
		fmt.Printf("loaded in %s\n", time.Since(t0).Round(time.Millisecond))
		return nil
	}
	wctx, wcancel := context.WithTimeout(ctx, r.wait)
	defer wcancel()
	arr, err := scaleworld.WaitArrivedTruth(wctx, truth, r.targets)
	arr.Print(os.Stdout)
	if err != nil {
		return err
	}
	fmt.Printf("loaded and queryable in %s\n", time.Since(t0).Round(time.Millisecond))
	fmt.Printf("ground truth: %s\n", path)
	return nil
}
