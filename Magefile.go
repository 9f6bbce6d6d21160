//go:build mage

// Stitch's build targets. The plugin SDK's targets (build:backend,
// buildAll for linux/darwin/windows on amd64 and arm64, coverage, …) come
// from its build package; the rest are the project's own. Run them with
// `go tool mage <target>`; `go tool mage -l` lists them.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/magefile/mage/mg"
	"github.com/magefile/mage/sh"

	// mage:import
	build "github.com/grafana/grafana-plugin-sdk-go/build"
)

// Default builds the plugin backend for every supported platform.
var Default = build.BuildAll

// go.mod names the toolchain the plugin is built and tested with (a patch
// release carrying the standard library's security fixes). Machines whose Go
// distribution defaults to GOTOOLCHAIN=local would ignore it: every target
// lets the go command fetch that toolchain from the module proxy instead,
// unless the caller chose a GOTOOLCHAIN.
func init() {
	if os.Getenv("GOTOOLCHAIN") == "" {
		_ = os.Setenv("GOTOOLCHAIN", "auto")
	}
}

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
		{"vulnerability scan (govulncheck, Go vulnerability database)", govulncheck},
		{"fuzzing, short (every target, FUZZTIME each, default 3s)", fuzzShort},
		{"frontend install", npmInstall},
		{"frontend typecheck", func() error { return sh.RunV("npm", "run", "typecheck") }},
		{"frontend lint", func() error { return sh.RunV("npm", "run", "lint") }},
		{"frontend tests", func() error { return sh.RunV("npm", "run", "test:ci") }},
		{"frontend editors in a real browser (Chromium)", browserTests},
		{"integration tests (real stack, plugin over gRPC, race detector)", func() error {
			return sh.RunV("go", "test", "-race", "-count=1", "-tags", "integration", "-timeout", "60m", "-v", "./test/integration/...")
		}},
		// Fails on any failed query or goroutine the plugin keeps; its p99
		// goes to benchmarks/results.md through mage bench.
		{"load (50 concurrent mixed queries for 60 s, real stack)", func() error {
			return sh.RunV("go", "test", "-count=1", "-tags", "integration", "-run", "^$", "-bench", "^BenchmarkLoadMixed$", "-benchtime", "1x", "-timeout", "20m", "./test/integration/")
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

// The vulnerability scanner and the Go vulnerability database it reads, both
// pinned and fetched from the Go module proxy: the database's own host is
// not reachable from every machine, so it is built from the x/vulndb module
// (its OSV reports) with that module's own generator, once per version.
// Bump vulndbVersion to scan against newer reports.
const (
	govulncheckVersion = "v1.9.0"
	vulndbModule       = "golang.org/x/vulndb"
	vulndbVersion      = "v0.0.0-20261105234957-e22db6528018"
)

// Vulncheck scans the plugin's packages with govulncheck against the pinned
// Go vulnerability database (also a step of testAll).
func Vulncheck() error { return govulncheck() }

// govulncheck scans the plugin's packages for known vulnerabilities that
// their code reaches.
func govulncheck() error {
	db, err := vulnDB()
	if err != nil {
		return err
	}
	return sh.RunV("go", "run", "golang.org/x/vuln/cmd/govulncheck@"+govulncheckVersion, "-db", "file://"+db, "./pkg/...")
}

// vulnDB returns the folder of the Go vulnerability database built from
// vulndbVersion, building it when it is not cached.
func vulnDB() (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	if x := os.Getenv("XDG_CACHE_HOME"); x != "" {
		cache = x
	}
	db := filepath.Join(cache, "stitch", "vulndb", vulndbVersion)
	if _, err := os.Stat(filepath.Join(db, "index", "db.json")); err == nil {
		return db, nil
	}
	fmt.Printf("building the Go vulnerability database %s from the module proxy (once)…\n", vulndbVersion)
	if err := os.MkdirAll(filepath.Dir(db), 0o755); err != nil {
		return "", err
	}
	out, err := sh.Output("go", "mod", "download", "-json", vulndbModule+"@"+vulndbVersion)
	if err != nil {
		return "", err
	}
	var mod struct{ Dir string }
	if err := json.Unmarshal([]byte(out), &mod); err != nil || mod.Dir == "" {
		return "", fmt.Errorf("go mod download %s: no folder in %q", vulndbModule, out)
	}
	// The generator reads a git checkout: a committed copy of the module.
	repo, err := os.MkdirTemp("", "stitch-vulndb-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(repo)
	if err := sh.Run("cp", "-R", mod.Dir+"/.", repo); err != nil {
		return "", err
	}
	if err := sh.Run("chmod", "-R", "u+w", repo); err != nil {
		return "", err
	}
	git := func(args ...string) error {
		return sh.Run("git", append([]string{"-C", repo, "-c", "user.name=stitch", "-c", "user.email=stitch@localhost"}, args...)...)
	}
	for _, args := range [][]string{{"init", "-q"}, {"add", "-A"}, {"commit", "-q", "-m", vulndbVersion}} {
		if err := git(args...); err != nil {
			return "", fmt.Errorf("preparing the vulnerability reports: git %s: %w", strings.Join(args, " "), err)
		}
	}
	tmp := db + ".tmp"
	_ = os.RemoveAll(tmp)
	gendb := exec.Command("go", "run", "./cmd/gendb", "-repo", ".", "-out", tmp)
	gendb.Dir, gendb.Stdout, gendb.Stderr = repo, os.Stdout, os.Stderr
	if err := gendb.Run(); err != nil {
		return "", fmt.Errorf("generating the vulnerability database: %w", err)
	}
	if err := os.Rename(tmp, db); err != nil {
		return "", err
	}
	return db, nil
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

// Fuzzing. Every Fuzz target of every package runs for a fixed budget, one
// target at a time with one worker (go test -fuzz takes one package and one
// target per run, and the machine is shared): the executions of each run are
// added to benchmarks/fuzz.md, whose goal is 10^7 executions per target over
// its life. A target that finds a failing input fails the run; Go leaves the
// input in the package's testdata/fuzz/<Target>/, where it stays as a
// regression seed once the bug is fixed.

const (
	fuzzLedger = "benchmarks/fuzz.md"
	// fuzzGoal is the executions each target should reach over its life.
	fuzzGoal = 10_000_000
	// fuzzLong and fuzzShortBudget are the per-target budgets of `mage fuzz`
	// (fuzzShortBudget also when CI is set) and of the testAll step.
	fuzzLong        = "30s"
	fuzzShortBudget = "3s"
)

// Fuzz runs every fuzz target for FUZZTIME each (default 30s, 3s when CI is
// set; any go test -fuzztime value, e.g. 2m or 500000x), sequentially with
// one worker, and adds each target's executions to benchmarks/fuzz.md. It
// fails if a target finds a failing input (left in testdata/fuzz/<Target>/
// by go test). FUZZMINIMIZETIME bounds the minimizing of each new input (2s);
// FUZZKEEP=1 copies the new interesting inputs into testdata/fuzz/<Target>/.
func Fuzz() error {
	budget := fuzzLong
	if os.Getenv("CI") != "" {
		budget = fuzzShortBudget
	}
	return runFuzz(fuzzBudget(budget), true)
}

// fuzzShort is the short fuzzing step for testAll: every target for FUZZTIME
// (default 3s) each. It reports executions but leaves the ledger alone, so a
// test run does not change the tree.
func fuzzShort() error { return runFuzz(fuzzBudget(fuzzShortBudget), false) }

func fuzzBudget(def string) string {
	if v := strings.TrimSpace(os.Getenv("FUZZTIME")); v != "" {
		return v
	}
	return def
}

// fuzzTarget is one Fuzz function of one package (import path and directory).
type fuzzTarget struct{ pkg, dir, name string }

func (t fuzzTarget) key() string { return t.pkg + "." + t.name }

// fuzzResult is what one target's run did.
type fuzzResult struct {
	target  fuzzTarget
	execs   int64
	crashed bool
	failure string // the failing input's file, or why the run failed
	took    time.Duration
}

func runFuzz(budget string, record bool) error {
	if err := checkFuzzBudget(budget); err != nil {
		return err
	}
	targets, err := fuzzTargets()
	if err != nil {
		return err
	}
	if len(targets) == 0 {
		return fmt.Errorf("no fuzz targets found")
	}
	fmt.Printf("fuzzing %d targets for %s each, one at a time\n", len(targets), budget)
	start := time.Now()
	var results []fuzzResult
	keep := os.Getenv("FUZZKEEP") != ""
	for i, t := range targets {
		fmt.Printf("\n== fuzz %d/%d %s (%s)\n", i+1, len(targets), t.name, t.pkg)
		res := fuzzOne(t, budget)
		if !res.crashed && strings.Contains(res.failure, "context deadline exceeded") {
			// Go's coordinator can report its own -fuzztime deadline as a
			// failure when it expires while a worker starts, with no input
			// at fault; a real failure writes its input and is never
			// retried.
			fmt.Printf("\n== fuzz %d/%d %s: go's fuzz deadline ended the run without a failing input; once more\n", i+1, len(targets), t.name)
			res = fuzzOne(t, budget)
		}
		results = append(results, res)
		if keep {
			if err := keepFuzzCorpus(t); err != nil {
				return err
			}
		}
	}
	ledger, err := readFuzzLedger(fuzzLedger)
	if err != nil {
		return err
	}
	ledger.add(results)
	fmt.Printf("\n== fuzzing (%s per target, %s in all)\n", budget, time.Since(start).Round(time.Second))
	fmt.Print(ledger.table(results))
	if record {
		ledger.runs = append(ledger.runs, fuzzRunLine(budget, results, time.Since(start)))
		if err := os.WriteFile(fuzzLedger, []byte(ledger.render()), 0o644); err != nil {
			return err
		}
		fmt.Printf("recorded in %s\n", fuzzLedger)
	}
	var failed []string
	for _, r := range results {
		if r.failure != "" {
			failed = append(failed, fmt.Sprintf("%s: %s", r.target.key(), r.failure))
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("fuzzing failed:\n  %s", strings.Join(failed, "\n  "))
	}
	return nil
}

// keepFuzzCorpus copies the interesting inputs go test found for a target
// (kept in the build cache) into the package's testdata/fuzz/<Target>/, so
// they are committed and run with the unit tests. Inputs over 16 KiB stay
// in the cache.
func keepFuzzCorpus(t fuzzTarget) error {
	cache, err := sh.Output("go", "env", "GOCACHE")
	if err != nil {
		return err
	}
	from := filepath.Join(cache, "fuzz", filepath.FromSlash(t.pkg), t.name)
	to := filepath.Join(t.dir, "testdata", "fuzz", t.name)
	entries, err := os.ReadDir(from)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	kept := 0
	for _, e := range entries {
		dst := filepath.Join(to, e.Name())
		if _, err := os.Stat(dst); err == nil || e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			return err
		}
		if len(b) > 16<<10 {
			continue
		}
		if err := os.MkdirAll(to, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			return err
		}
		kept++
	}
	fmt.Printf("kept %d new corpus inputs in %s\n", kept, to)
	return nil
}

var reFuzzTime = regexp.MustCompile(`^\d+x$`)

func checkFuzzBudget(budget string) error {
	if reFuzzTime.MatchString(budget) {
		return nil
	}
	if d, err := time.ParseDuration(budget); err != nil || d <= 0 {
		return fmt.Errorf("FUZZTIME %q: want a duration (30s, 2m) or a count of executions (100000x)", budget)
	}
	return nil
}

// fuzzTargets lists the Fuzz targets of every package whose tests declare
// one, as go test -list reports them, in package then name order.
func fuzzTargets() ([]fuzzTarget, error) {
	out, err := sh.Output("go", "list", "-f", `{{.ImportPath}}|{{.Dir}}|{{join .TestGoFiles ","}},{{join .XTestGoFiles ","}}`, "./...")
	if err != nil {
		return nil, err
	}
	var targets []fuzzTarget
	for _, line := range strings.Split(out, "\n") {
		parts := strings.SplitN(line, "|", 3)
		if len(parts) != 3 || !declaresFuzz(parts[1], strings.Split(parts[2], ",")) {
			continue
		}
		names, err := sh.Output("go", "test", "-list", "^Fuzz", parts[0])
		if err != nil {
			return nil, fmt.Errorf("listing the fuzz targets of %s: %w", parts[0], err)
		}
		for _, n := range strings.Fields(names) {
			if strings.HasPrefix(n, "Fuzz") {
				targets = append(targets, fuzzTarget{pkg: parts[0], dir: parts[1], name: n})
			}
		}
	}
	sort.Slice(targets, func(i, j int) bool { return targets[i].key() < targets[j].key() })
	return targets, nil
}

func declaresFuzz(dir string, files []string) bool {
	for _, f := range files {
		if f == "" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err == nil && bytes.Contains(b, []byte("\nfunc Fuzz")) {
			return true
		}
	}
	return false
}

var (
	reFuzzExecs   = regexp.MustCompile(`^fuzz: elapsed: .*\bexecs: (\d+)`)
	reFuzzFailing = regexp.MustCompile(`Failing input written to (\S+)`)
)

// fuzzOne runs one target for the budget with one worker, echoing go test's
// output, and reads the executions from its last progress line.
func fuzzOne(t fuzzTarget, budget string) fuzzResult {
	start := time.Now()
	res := fuzzResult{target: t}
	timeout := "0" // a count budget: no wall-clock bound
	if d, err := time.ParseDuration(budget); err == nil {
		timeout = (2*d + 10*time.Minute).String()
	}
	// Go minimizes each new interesting input for up to a minute by
	// default, executions it does not count: a short bound keeps the
	// budget for fuzzing (FUZZMINIMIZETIME overrides it).
	minimize := "2s"
	if v := strings.TrimSpace(os.Getenv("FUZZMINIMIZETIME")); v != "" {
		minimize = v
	}
	cmd := exec.Command("go", "test", "-run", "^$", "-fuzz", "^"+t.name+"$", "-fuzztime", budget,
		"-fuzzminimizetime", minimize, "-parallel", "1", "-timeout", timeout, t.pkg)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	var tail []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
		for sc.Scan() {
			line := sc.Text()
			fmt.Println(line)
			if m := reFuzzExecs.FindStringSubmatch(line); m != nil {
				res.execs, _ = strconv.ParseInt(m[1], 10, 64)
			}
			if m := reFuzzFailing.FindStringSubmatch(line); m != nil {
				res.crashed, res.failure = true, "failing input "+m[1]
			}
			if tail = append(tail, line); len(tail) > 5 {
				tail = tail[1:]
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	err := cmd.Run()
	_ = pw.Close()
	<-done
	res.took = time.Since(start)
	if err != nil && res.failure == "" {
		res.failure = fmt.Sprintf("go test: %v (%s)", err, strings.Join(tail, " / "))
	}
	return res
}

// fuzzLedgerRow is one target's line of the ledger.
type fuzzLedgerRow struct {
	pkg, name  string
	last       int64
	cumulative int64
	runs       int
	crashes    int
	lastRun    string
}

type fuzzLedgerFile struct {
	rows map[string]*fuzzLedgerRow
	runs []string
}

const fuzzLedgerHeader = "| target | package | this run's executions | cumulative executions | of 10⁷ | runs | crashes | last run |"

// readFuzzLedger reads benchmarks/fuzz.md back: its targets table and the
// list of runs; a missing file is an empty ledger.
func readFuzzLedger(path string) (*fuzzLedgerFile, error) {
	l := &fuzzLedgerFile{rows: map[string]*fuzzLedgerRow{}}
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return l, nil
	}
	if err != nil {
		return nil, err
	}
	section := ""
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(line, "## "):
			section = strings.TrimPrefix(line, "## ")
		case section == "Runs" && strings.HasPrefix(line, "| 2"):
			l.runs = append(l.runs, line)
		case section == "Targets" && strings.HasPrefix(line, "| Fuzz"):
			c := strings.Split(strings.Trim(line, "|"), "|")
			if len(c) != 8 {
				return nil, fmt.Errorf("%s: a targets row without 8 cells: %q", path, line)
			}
			for i := range c {
				c[i] = strings.Trim(strings.TrimSpace(c[i]), "`")
			}
			r := &fuzzLedgerRow{name: c[0], pkg: c[1], lastRun: c[7]}
			var errs [4]error
			r.last, errs[0] = strconv.ParseInt(strings.ReplaceAll(c[2], ",", ""), 10, 64)
			r.cumulative, errs[1] = strconv.ParseInt(strings.ReplaceAll(c[3], ",", ""), 10, 64)
			r.runs, errs[2] = strconv.Atoi(c[5])
			r.crashes, errs[3] = strconv.Atoi(c[6])
			for _, e := range errs {
				if e != nil {
					return nil, fmt.Errorf("%s: %q: %v", path, line, e)
				}
			}
			l.rows[r.pkg+"."+r.name] = r
		}
	}
	return l, nil
}

func (l *fuzzLedgerFile) add(results []fuzzResult) {
	now := time.Now().UTC().Format("2006-01-02")
	for _, res := range results {
		r := l.rows[res.target.key()]
		if r == nil {
			r = &fuzzLedgerRow{pkg: res.target.pkg, name: res.target.name}
			l.rows[res.target.key()] = r
		}
		r.last = res.execs
		r.cumulative += res.execs
		r.runs++
		if res.crashed {
			r.crashes++
		}
		r.lastRun = now
	}
}

func (l *fuzzLedgerFile) sorted() []*fuzzLedgerRow {
	rows := make([]*fuzzLedgerRow, 0, len(l.rows))
	for _, r := range l.rows {
		rows = append(rows, r)
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].pkg != rows[j].pkg {
			return rows[i].pkg < rows[j].pkg
		}
		return rows[i].name < rows[j].name
	})
	return rows
}

// table renders the targets table (all targets, or only those of results).
func (l *fuzzLedgerFile) table(results []fuzzResult) string {
	only := map[string]bool{}
	for _, r := range results {
		only[r.target.key()] = true
	}
	var b strings.Builder
	b.WriteString(fuzzLedgerHeader + "\n| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |\n")
	for _, r := range l.sorted() {
		if results != nil && !only[r.pkg+"."+r.name] {
			continue
		}
		fmt.Fprintf(&b, "| %s | `%s` | %s | %s | %s | %d | %d | %s |\n", r.name, r.pkg, thousands(r.last), thousands(r.cumulative),
			goalShare(r.cumulative), r.runs, r.crashes, r.lastRun)
	}
	return b.String()
}

func (l *fuzzLedgerFile) render() string {
	var b strings.Builder
	b.WriteString("# Stitch fuzzing ledger\n\n")
	b.WriteString("Written by `go tool mage fuzz`: every fuzz target runs for a fixed budget (FUZZTIME, default 30s; 3s when CI is set),\n")
	b.WriteString("one at a time with one worker, and its executions are added here. The goal is 10⁷ executions per target over its life;\n")
	b.WriteString("seed corpora are kept in each package's testdata/fuzz/<Target>/ and run with the unit tests. Crashes counts the runs\n")
	b.WriteString("that found a failing input (go test leaves it in testdata/fuzz/<Target>/ as a regression seed).\n\n")
	b.WriteString("## Targets\n\n")
	b.WriteString(l.table(nil))
	b.WriteString("\n## Runs\n\n| date (UTC) | budget per target | targets | executions | crashes | took |\n| --- | --- | ---: | ---: | ---: | ---: |\n")
	for _, r := range l.runs {
		b.WriteString(r + "\n")
	}
	return b.String()
}

func fuzzRunLine(budget string, results []fuzzResult, took time.Duration) string {
	var execs int64
	crashes := 0
	for _, r := range results {
		execs += r.execs
		if r.crashed {
			crashes++
		}
	}
	return fmt.Sprintf("| %s | %s | %d | %s | %d | %s |", time.Now().UTC().Format("2006-01-02 15:04"), budget, len(results),
		thousands(execs), crashes, took.Round(time.Second))
}

func goalShare(n int64) string {
	if n >= fuzzGoal {
		return "✓"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(n)/fuzzGoal)
}

func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
