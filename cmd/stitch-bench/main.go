// Command stitch-bench runs Stitch's benchmarks and writes their ratios —
// each measured side by side with its reference in the same run — to a
// results file. Wall-clock numbers are reported, never asserted.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

// pairs names each benchmark and the reference it is compared with.
var pairs = []struct{ name, subject, reference, target string }{
	{"join + frames vs OTLP protobuf decode, 10^4 spans", "BenchmarkJoinAndFrames/spans=10000", "BenchmarkDecodeOTLP/spans=10000", "≤ 1.0×"},
	{"join + frames vs OTLP protobuf decode, 10^5 spans", "BenchmarkJoinAndFrames/spans=100000", "BenchmarkDecodeOTLP/spans=100000", "≤ 1.0×"},
	{"sessionTimeline through the plugin over gRPC vs the same store calls made directly", "BenchmarkSessionTimeline/plugin", "BenchmarkSessionTimeline/direct", "≤ 1.15×"},
	{"manual way (search, each trace, logs per trace, sequential) vs the plugin", "BenchmarkSessionTimeline/manual", "BenchmarkSessionTimeline/plugin", "≥ 3×"},
	{"sessions (limit 100), 10⁴ vs 10³ sessions of the app in the stores", "BenchmarkSessionsAtScale/sessions/sessions=10000", "BenchmarkSessionsAtScale/sessions/sessions=1000", "≤ 2×"},
	{"sessions (limit 100), 10⁵ vs 10³ sessions of the app in the stores", "BenchmarkSessionsAtScale/sessions/sessions=100000", "BenchmarkSessionsAtScale/sessions/sessions=1000", "≤ 2×"},
	{"sessions errorsOnly by errors, 10⁵ vs 10³ sessions", "BenchmarkSessionsAtScale/sessionsErrors/sessions=100000", "BenchmarkSessionsAtScale/sessionsErrors/sessions=1000", "≤ 2×"},
	{"errorSessionRatio series, 10⁵ vs 10³ sessions", "BenchmarkSessionsAtScale/errorSessionRatio/sessions=100000", "BenchmarkSessionsAtScale/errorSessionRatio/sessions=1000", "reported (counted by the log store)"},
	{"latencyBreakdown, 10⁵ vs 10³ sessions", "BenchmarkSessionsAtScale/latencyBreakdown/sessions=100000", "BenchmarkSessionsAtScale/latencyBreakdown/sessions=1000", "≤ 2× (Prometheus histograms)"},
	{"sessionTimeline, 300 vs 10 services in the trace store", "BenchmarkSessionServices/services=300", "BenchmarkSessionServices/services=10", "≈ 1× (independent of services)"},
}

// figures are single measurements worth a line of their own.
var figures = []struct{ name, bench, metric, target string }{
	{"join + all three frames, 10^4 spans: spans/s", "BenchmarkJoinAndFrames/spans=10000", "spans/s", "≥ 10⁶ per core"},
	{"join + all three frames, 10^4 spans: allocations per span", "BenchmarkJoinAndFrames/spans=10000", "allocs/span", "≤ 2"},
	{"join + all three frames, 10^4 spans: bytes per span", "BenchmarkJoinAndFrames/spans=10000", "B/span", "reported"},
	{"join + all three frames, 10^5 spans: spans/s", "BenchmarkJoinAndFrames/spans=100000", "spans/s", "flat per span"},
	{"join + all three frames, 10^5 spans: allocations per span", "BenchmarkJoinAndFrames/spans=100000", "allocs/span", "≤ 2"},
	{"sessionTimeline of a 10^4-span session: peak heap (bytes)", "BenchmarkSessionPeakHeap", "peak-heap-B", "reported"},
	{"sessionTimeline of a 10^4-span session: response (Arrow bytes)", "BenchmarkSessionPeakHeap", "response-B", "reported"},
	{"sessionTimeline of a 10^4-span session: peak heap / response", "BenchmarkSessionPeakHeap", "peak/response", "≤ 2×"},
	{"sessions (limit 100) at 10³ sessions: store requests per query", "BenchmarkSessionsAtScale/sessions/sessions=1000", "storereq/op", "bounded by the limit"},
	{"sessions (limit 100) at 10⁵ sessions: store requests per query", "BenchmarkSessionsAtScale/sessions/sessions=100000", "storereq/op", "the same as at 10³"},
	{"sessions errorsOnly at 10⁵ sessions: store requests per query", "BenchmarkSessionsAtScale/sessionsErrors/sessions=100000", "storereq/op", "bounded by the limit"},
	{"errorSessionRatio at 10⁵ sessions: store requests per query", "BenchmarkSessionsAtScale/errorSessionRatio/sessions=100000", "storereq/op", "constant"},
	{"latencyBreakdown at 10⁵ sessions: store requests per query", "BenchmarkSessionsAtScale/latencyBreakdown/sessions=100000", "storereq/op", "constant"},
	{"50 concurrent mixed queries for 60 s on the real stack: p99 (ms)", "BenchmarkLoadMixed", "p99-ms", "reported"},
	{"50 concurrent mixed queries for 60 s: failed queries", "BenchmarkLoadMixed", "failed", "0"},
	{"50 concurrent mixed queries for 60 s: plugin goroutines after − before", "BenchmarkLoadMixed", "goroutine-growth", "≤ 0"},
	{"sessionTimeline of a 10^4-span session: peak heap up to the handler's return / response", "BenchmarkSessionPeakHeap", "handler-peak/response", "≤ 2×"},
}

// runs are the benchmark commands; the integration one starts (or reuses)
// the real stack and sends a small demo world first.
var runs = [][]string{
	{"test", "-run", "^$", "-bench", ".", "-benchmem", "-benchtime", "BENCHTIME", "./pkg/correlation/"},
	{"test", "-tags", "integration", "-run", "^$", "-bench", "SessionTimeline|SessionServices", "-benchtime", "20x", "-timeout", "30m", "./test/integration/"},
	{"test", "-tags", "integration", "-run", "^$", "-bench", "SessionsAtScale", "-benchtime", "10x", "-timeout", "60m", "./test/integration/"},
	{"test", "-tags", "integration", "-run", "^$", "-bench", "SessionPeakHeap", "-benchtime", "5x", "-timeout", "30m", "./test/integration/"},
	{"test", "-tags", "integration", "-run", "^$", "-bench", "LoadMixed", "-benchtime", "1x", "-timeout", "30m", "./test/integration/"},
}

var line = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+(\d+)\s+(.*)$`)

func main() {
	out := flag.String("out", "benchmarks/results.md", "results file")
	benchtime := flag.String("benchtime", "2s", "go test -benchtime")
	flag.Parse()

	var buf bytes.Buffer
	start := time.Now()
	for _, args := range runs {
		for i, a := range args {
			if a == "BENCHTIME" {
				args[i] = *benchtime
			}
		}
		fmt.Println("go", strings.Join(args, " "))
		var one bytes.Buffer
		cmd := exec.Command("go", args...)
		cmd.Stdout = &one
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprint(os.Stderr, one.String())
			fmt.Fprintln(os.Stderr, "stitch-bench:", err)
			os.Exit(1)
		}
		fmt.Print(one.String())
		buf.Write(one.Bytes())
	}

	metrics := map[string]map[string]float64{}
	var cpu string
	sc := bufio.NewScanner(&buf)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "cpu:") {
			cpu = strings.TrimSpace(strings.TrimPrefix(sc.Text(), "cpu:"))
		}
		m := line.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		vals := map[string]float64{}
		f := strings.Fields(m[3])
		for i := 0; i+1 < len(f); i += 2 {
			if v, err := strconv.ParseFloat(f[i], 64); err == nil {
				vals[f[i+1]] = v
			}
		}
		metrics[m[1]] = vals
	}

	var md strings.Builder
	fmt.Fprintf(&md, "# Stitch benchmark results\n\nRun %s on %s/%s, %d cores, CPU %q, %s, in %s.\n"+
		"Ratios compare two benchmarks measured in the same run; lower is better.\n\n",
		time.Now().UTC().Format(time.RFC3339), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), cpu, runtime.Version(), time.Since(start).Round(time.Second))
	md.WriteString("| comparison | subject ns/op | reference ns/op | ratio | target |\n| --- | ---: | ---: | ---: | --- |\n")
	for _, p := range pairs {
		s, r := metrics[p.subject], metrics[p.reference]
		if s == nil || r == nil || r["ns/op"] == 0 {
			fmt.Fprintf(&md, "| %s | missing | missing | – | %s |\n", p.name, p.target)
			continue
		}
		fmt.Fprintf(&md, "| %s | %.0f | %.0f | %.2f× | %s |\n", p.name, s["ns/op"], r["ns/op"], s["ns/op"]/r["ns/op"], p.target)
	}
	md.WriteString("\n| figure | value | target |\n| --- | ---: | --- |\n")
	for _, f := range figures {
		if v, ok := metrics[f.bench][f.metric]; ok {
			fmt.Fprintf(&md, "| %s | %.4g | %s |\n", f.name, v, f.target)
		} else {
			fmt.Fprintf(&md, "| %s | missing | %s |\n", f.name, f.target)
		}
	}
	md.WriteString("\n| benchmark | metric | value |\n| --- | --- | ---: |\n")
	names := make([]string, 0, len(metrics))
	for n := range metrics {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		keys := make([]string, 0, len(metrics[n]))
		for k := range metrics[n] {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&md, "| %s | %s | %.4g |\n", n, k, metrics[n][k])
		}
	}
	if err := os.MkdirAll(dirOf(*out), 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := os.WriteFile(*out, []byte(md.String()), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("\nwrote %s\n\n%s", *out, md.String())
}

func dirOf(p string) string {
	if i := strings.LastIndex(p, "/"); i > 0 {
		return p[:i]
	}
	return "."
}
