package stack

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"
)

// ForTests returns one stack for a whole test run. If STITCH_STACK_DIR names a
// stack folder, or the demo stack (DefaultDir) is running and healthy, that
// stack is reused and left running; otherwise a private stack starts on free
// ports in a temporary folder and release stops it and removes the folder.
func ForTests(ctx context.Context, out io.Writer) (s *Stack, release func(), err error) {
	dirs := []string{DefaultDir()}
	if d := os.Getenv("STITCH_STACK_DIR"); d != "" {
		dirs = []string{d}
	}
	for _, d := range dirs {
		// Reused only when the collector is in front of its stores: the
		// tests send through the reference pipeline.
		if existing, err := Load(d); err == nil && existing.Healthy(ctx) && len(existing.Only) == 0 && existing.HasCollector() {
			fmt.Fprintf(out, "reusing the running stack in %s\n", d)
			return existing, func() {}, nil
		}
	}
	dir, err := os.MkdirTemp("", "stitch-stack-")
	if err != nil {
		return nil, nil, err
	}
	ports, err := FreePorts()
	if err != nil {
		return nil, nil, err
	}
	fmt.Fprintf(out, "starting a private stack in %s\n", dir)
	s, err = Start(ctx, Options{Dir: dir, Ports: ports, Out: out, ReadyTimeout: 90 * time.Second})
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	return s, func() {
		_ = s.Stop(out)
		os.RemoveAll(dir)
	}, nil
}

// EnsureDefault returns the demo stack (default ports, DefaultDir), starting
// it unless a healthy one is already running there.
func EnsureDefault(ctx context.Context, out io.Writer) (*Stack, error) {
	dir := DefaultDir()
	if s, err := Load(dir); err == nil {
		if s.Healthy(ctx) && len(s.Only) == 0 {
			if !s.HasCollector() {
				// A stack started before the collector joined it: its
				// stores stay up, the collector is started in front of them.
				fmt.Fprintf(out, "stack already running from %s; starting the collector in front of it\n", dir)
				if err := s.AddCollector(ctx, DefaultPorts, out); err != nil {
					return nil, err
				}
				return s, nil
			}
			fmt.Fprintf(out, "stack already running from %s\n", dir)
			return s, nil
		}
		// What is left of a half-dead stack is stopped before starting anew.
		_ = s.Stop(out)
	}
	fmt.Fprintf(out, "starting the stack in %s\n", dir)
	return Start(ctx, Options{Dir: dir, Ports: DefaultPorts, Out: out})
}
