//go:build mage

// Stitch's build targets. The plugin SDK's targets (build:backend,
// buildAll for linux/darwin/windows on amd64 and arm64, coverage, …) come
// from its build package; the rest are the project's own. Run them with
// `go tool mage <target>`; `go tool mage -l` lists them.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/magefile/mage/mg"
	"github.com/magefile/mage/sh"

	// mage:import
	build "github.com/grafana/grafana-plugin-sdk-go/build"
)

// Default builds the plugin backend for every supported platform.
var Default = build.BuildAll

// Stack builds, starts, stops and reports on the local stores and the
// collector (the reference pipeline) in front of them.
type Stack mg.Namespace

// Build builds the stores' and the collector's binaries that are not cached yet.
func (Stack) Build() error { return sh.RunV("go", "run", "./cmd/stitch-stack", "build") }

// Up starts Jaeger, VictoriaLogs and Prometheus on 127.0.0.1, then the
// collector in front of them, and waits until each is ready.
func (Stack) Up() error { return sh.RunV("go", "run", "./cmd/stitch-stack", "up") }

// Down stops the stack by the PIDs it recorded.
func (Stack) Down() error { return sh.RunV("go", "run", "./cmd/stitch-stack", "down") }

// Status shows each process (stores and collector) and its readiness.
func (Stack) Status() error { return sh.RunV("go", "run", "./cmd/stitch-stack", "status") }

// Demo is the main job: the stack up, the plugin started over gRPC, results shown.
func Demo() error { return sh.RunV("go", "run", "./cmd/stitch-demo") }

// Package zips dist/ the way Grafana's plugin catalog expects: one folder
// named after the plugin id, in stitch-sessions-datasource-<version>.zip,
// with its SHA-1 beside it. Build first: `npm run build` and
// `go tool mage buildAll` (or build:linux for one platform).
func Package() error { return sh.RunV("go", "run", "./cmd/stitch-package") }

// Bench runs the benchmarks and writes their ratios to benchmarks/results.md.
func Bench() error { return sh.RunV("go", "run", "./cmd/stitch-bench") }

// TestAll runs every test: Go unit tests, the frontend's typecheck, lint and
// jest tests, and the integration tests against the real stack over gRPC.
func TestAll() error {
	total := time.Now()
	type step struct {
		name string
		run  func() error
	}
	steps := []step{
		{"go vet", func() error { return sh.RunV("go", "vet", "./...") }},
		{"go vet (integration)", func() error { return sh.RunV("go", "vet", "-tags", "integration", "./test/...") }},
		{"go unit tests (race detector)", func() error { return sh.RunV("go", "test", "-race", "-count=1", "./...") }},
		{"security scan (gosec, high severity)", gosec},
		{"frontend install", npmInstall},
		{"frontend typecheck", func() error { return sh.RunV("npm", "run", "typecheck") }},
		{"frontend lint", func() error { return sh.RunV("npm", "run", "lint") }},
		{"frontend tests", func() error { return sh.RunV("npm", "run", "test:ci") }},
		{"frontend editors in a real browser (Chromium)", browserTests},
		{"integration tests (real stack, plugin over gRPC, race detector)", func() error {
			return sh.RunV("go", "test", "-race", "-count=1", "-tags", "integration", "-timeout", "60m", "-v", "./test/integration/...")
		}},
	}
	var report []string
	for _, s := range steps {
		start := time.Now()
		fmt.Printf("\n== %s\n", s.name)
		err := s.run()
		report = append(report, fmt.Sprintf("  %-50s %8s  %s", s.name, time.Since(start).Round(time.Second), okOrFail(err)))
		if err != nil {
			printReport(report, total)
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	printReport(report, total)
	return nil
}

func okOrFail(err error) string {
	if err != nil {
		return "FAILED"
	}
	return "ok"
}

func printReport(lines []string, total time.Time) {
	fmt.Printf("\n== phases\n%s\n  %-50s %8s\n", strings.Join(lines, "\n"), "total", time.Since(total).Round(time.Second))
}

// gosecVersion pins the scanner, built from the Go module proxy like the stores.
const gosecVersion = "v2.30.0"

// gosec scans every package for high-severity findings; a finding either gets
// fixed or a #nosec comment that says why it is safe.
func gosec() error {
	return sh.RunV("go", "run", "github.com/securego/gosec/v2/cmd/gosec@"+gosecVersion, "-quiet", "-severity", "high", "./...")
}

// browserTests drives the built editors in Debian's Chromium. CI (root on a
// Debian machine) installs Chromium when it is missing; elsewhere install it
// yourself or point CHROMIUM_PATH at one.
func browserTests() error {
	chromium := os.Getenv("CHROMIUM_PATH")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		if os.Geteuid() != 0 {
			return fmt.Errorf("no Chromium at %s: install it (apt-get install chromium) or set CHROMIUM_PATH", chromium)
		}
		fmt.Println("installing Debian's chromium for the browser tests…")
		if err := sh.RunWithV(map[string]string{"DEBIAN_FRONTEND": "noninteractive"}, "apt-get", "update", "-qq"); err != nil {
			return err
		}
		if err := sh.RunWithV(map[string]string{"DEBIAN_FRONTEND": "noninteractive"}, "apt-get", "install", "-y", "-qq", "chromium"); err != nil {
			return err
		}
	}
	return sh.RunV("npm", "run", "test:browser")
}

// npmInstall installs the frontend's locked dependencies unless they are in place.
func npmInstall() error {
	if _, err := os.Stat("node_modules/.package-lock.json"); err == nil && os.Getenv("CI") == "" {
		fmt.Println("node_modules present; skipping npm ci (CI always reinstalls)")
		return nil
	}
	if _, err := exec.LookPath("npm"); err != nil {
		return fmt.Errorf("npm not found: install Node.js 20 or newer")
	}
	return sh.RunV("npm", "ci", "--no-audit", "--no-fund")
}
