// Command stitch-world generates Stitch's demo world: a seeded simulated iOS
// fleet and real backend services on 127.0.0.1 that send OTLP to the local
// stack (Jaeger, VictoriaLogs, Prometheus), a ground-truth file describing
// exactly what was sent, and a proof that it arrived.
//
//	go run ./cmd/stitch-world [-seed N] [-sessions N] [-out DIR] [targets flags]
//
// Without target flags it uses the demo stack recorded by
// `go run ./cmd/stitch-stack up` (default ports when none is recorded) and
// sends through its collector (the reference pipeline); -direct sends
// straight to the stores instead.
// With -plan-only it prints the planned ground truth and sends nothing.
//
// With -scale N it loads a scale world instead (internal/scaleworld): N
// sessions of its own app (-app, default scale-ios) and backend services,
// written straight to the stores as OTLP/HTTP protobuf with timestamps
// spread over a past window (-window, ending a minute before now), then it
// waits until the stores answer for all of it:
//
//	go run ./cmd/stitch-world -scale 10000 [-seed S] [-window 1h] [-app NAME] [-out DIR]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/stitch-observability/stitch/internal/demoworld"
	"github.com/stitch-observability/stitch/internal/scaleworld"
	"github.com/stitch-observability/stitch/internal/stack"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "stitch-world:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("stitch-world", flag.ContinueOnError)
	seed := fs.Int64("seed", 1, "seed: the same seed gives the same world and ground truth")
	sessions := fs.Int("sessions", demoworld.DefaultSessions, "number of app sessions")
	out := fs.String("out", filepath.Join(stack.CacheDir(), "world"), "folder for the ground-truth file")
	concurrency := fs.Int("concurrency", demoworld.DefaultConcurrency, "devices running at once")
	planOnly := fs.Bool("plan-only", false, "print the planned ground truth as JSON and send nothing")
	prove := fs.Bool("prove", true, "after the run, read the stores back and compare with the ground truth")
	wait := fs.Duration("wait", demoworld.DefaultArrivalWait, "how long the proof waits for the stores")
	jaegerOTLP := fs.String("jaeger-otlp", "", "Jaeger OTLP/HTTP base URL (default: the demo stack)")
	jaegerQuery := fs.String("jaeger-query", "", "Jaeger query API base URL (default: the demo stack)")
	victoria := fs.String("victorialogs", "", "VictoriaLogs base URL (default: the demo stack)")
	prom := fs.String("prometheus", "", "Prometheus base URL (default: the demo stack)")
	collector := fs.String("collector", "", "collector OTLP/HTTP base URL to send through (default: the demo stack's)")
	variant := fs.String("variant", "", "another app of the same shape: its own app service, versions and app-facing hosts (lowercase letters and digits)")
	direct := fs.Bool("direct", false, "send straight to the stores, bypassing the collector (head sampling only)")
	scale := fs.Int("scale", 0, "load a scale world of this many sessions straight into the stores (no collector, no real-time pauses) instead of the demo world")
	window := fs.Duration("window", scaleworld.DefaultWindow, "with -scale: the window the sessions are spread over, ending a minute before now")
	app := fs.String("app", scaleworld.DefaultApp, "with -scale: the app's service.name; backend services are named <app>-gateway, <app>-orders, ...")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *scale > 0 {
		waitSet := false
		fs.Visit(func(f *flag.Flag) { waitSet = waitSet || f.Name == "wait" })
		if !waitSet {
			*wait = scaleworld.DefaultArrivalWait
		}
		targets := defaultTargets(true)
		for _, o := range []struct {
			flag string
			dst  *string
		}{{*jaegerOTLP, &targets.JaegerOTLPHTTP}, {*jaegerQuery, &targets.JaegerQuery}, {*victoria, &targets.VictoriaLogs}, {*prom, &targets.Prometheus}} {
			if o.flag != "" {
				*o.dst = o.flag
			}
		}
		targets.Collector = ""
		return runScale(ctx, scaleworld.Config{Sessions: *scale, Seed: *seed, Window: *window, App: *app}, scaleRun{
			targets: targets, out: *out, planOnly: *planOnly, prove: *prove, wait: *wait,
		})
	}

	if *planOnly {
		w, err := demoworld.PlanWith(*seed, *sessions, demoworld.PlanOptions{Collector: !*direct, Variant: *variant})
		if err != nil {
			return err
		}
		return w.GroundTruth().Encode(os.Stdout)
	}

	targets := defaultTargets(*direct)
	for _, o := range []struct {
		flag string
		dst  *string
	}{{*jaegerOTLP, &targets.JaegerOTLPHTTP}, {*jaegerQuery, &targets.JaegerQuery}, {*victoria, &targets.VictoriaLogs}, {*prom, &targets.Prometheus}, {*collector, &targets.Collector}} {
		if o.flag != "" {
			*o.dst = o.flag
		}
	}
	if *direct {
		targets.Collector = ""
	}
	if targets.Collector != "" {
		fmt.Printf("targets: through the collector %s; stores read back at traces %s, logs %s, metrics %s\n", targets.Collector, targets.JaegerQuery, targets.VictoriaLogs, targets.Prometheus)
	} else {
		fmt.Printf("targets (direct, no collector): traces %s, logs %s, metrics %s, trace query %s\n", targets.JaegerOTLPHTTP, targets.VictoriaLogs, targets.Prometheus, targets.JaegerQuery)
	}

	rctx, cancel := context.WithTimeout(ctx, 15*time.Minute)
	defer cancel()
	gt, err := demoworld.Run(rctx, demoworld.Config{Seed: *seed, Sessions: *sessions, OutDir: *out, Concurrency: *concurrency, Variant: *variant}, targets, os.Stdout)
	if err != nil {
		return err
	}
	if !*prove {
		return nil
	}
	pctx, pcancel := context.WithTimeout(ctx, *wait)
	defer pcancel()
	_, err = demoworld.ProveArrival(pctx, gt, targets, os.Stdout)
	return err
}

// defaultTargets are the recorded demo stack's URLs (through its collector
// unless direct), else the stores' default ports.
func defaultTargets(direct bool) demoworld.Targets {
	s := &stack.Stack{Ports: stack.DefaultPorts}
	if rec, err := stack.Load(stack.DefaultDir()); err == nil {
		s = rec
	}
	return demoworld.StackTargets(s, direct)
}
