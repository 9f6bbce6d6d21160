// Command stitch-stack builds, starts, stops and reports on Stitch's local
// stack of real stores (Jaeger v2, VictoriaLogs, Prometheus) on 127.0.0.1,
// with the reference pipeline's OpenTelemetry Collector in front of them.
//
//	stitch-stack build    build missing binaries into the cache
//	stitch-stack up       start the stack (default ports) and wait until ready
//	stitch-stack down     stop it by recorded PID
//	stitch-stack status   show each process and its readiness
//	stitch-stack collector-config [-rate R]
//	                      print the reference collector configuration for a
//	                      session sampling rate (deploy/collector holds R=0.9)
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/stitch-observability/stitch/internal/stack"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(os.Args) >= 2 && os.Args[1] == "collector-config" {
		fs := flag.NewFlagSet("collector-config", flag.ExitOnError)
		rate := fs.Float64("rate", stack.CollectorSamplingRate, "session sampling rate the apps use (stitch.sampling.rate)")
		_ = fs.Parse(os.Args[2:])
		b, err := stack.RenderCollectorConfig(stack.ReferenceCollectorConfig(*rate))
		if err != nil {
			fmt.Fprintln(os.Stderr, "stitch-stack:", err)
			os.Exit(1)
		}
		os.Stdout.Write(b)
		return
	}
	if len(os.Args) != 2 {
		usage()
	}
	if err := run(ctx, os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "stitch-stack:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: stitch-stack build|up|down|status|collector-config [-rate R]")
	os.Exit(2)
}

func run(ctx context.Context, cmd string) error {
	dir := stack.DefaultDir()
	switch cmd {
	case "build":
		fmt.Printf("building the stack's stores into %s\n", stack.CacheDir())
		return stack.BuildAll(ctx, os.Stdout)
	case "up":
		_, err := stack.EnsureDefault(ctx, os.Stdout)
		return err
	case "down":
		s, err := stack.Load(dir)
		if err != nil {
			fmt.Println("no stack recorded in", dir)
			return nil
		}
		return s.Stop(os.Stdout)
	case "status":
		s, err := stack.Load(dir)
		if err != nil {
			fmt.Println("no stack recorded in", dir)
			return nil
		}
		for _, st := range s.Status(ctx) {
			fmt.Printf("  %-13s pid %-7d running=%-5v ready=%-5v %s\n", st.Name, st.PID, st.Running, st.Ready, st.URL)
		}
		if s.HasCollector() {
			fmt.Printf("  send OTLP to the collector: %s (HTTP), %s (gRPC)\n", s.CollectorOTLPHTTPURL(), s.CollectorOTLPGRPCAddr())
		} else {
			fmt.Println("  no collector in front of the stores (started before it joined the stack; `stitch-stack up` adds it)")
		}
		return nil
	}
	usage()
	return nil
}
