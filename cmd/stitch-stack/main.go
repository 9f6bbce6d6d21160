// Command stitch-stack builds, starts, stops and reports on Stitch's local
// stack of real stores (Jaeger v2, VictoriaLogs, Prometheus) on 127.0.0.1.
//
//	stitch-stack build    build missing binaries into the cache
//	stitch-stack up       start the stack (default ports) and wait until ready
//	stitch-stack down     stop it by recorded PID
//	stitch-stack status   show each store's process and readiness
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/stitch-observability/stitch/internal/stack"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(os.Args) != 2 {
		usage()
	}
	if err := run(ctx, os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "stitch-stack:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: stitch-stack build|up|down|status")
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
		return nil
	}
	usage()
	return nil
}
