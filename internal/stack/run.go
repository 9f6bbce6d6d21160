package stack

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/template"
	"time"
)

//go:embed configs/*
var configs embed.FS

// Ports are the loopback ports one stack listens on.
type Ports struct {
	JaegerQueryHTTP int `json:"jaegerQueryHTTP"`
	JaegerQueryGRPC int `json:"jaegerQueryGRPC"`
	JaegerOTLPGRPC  int `json:"jaegerOTLPGRPC"`
	JaegerOTLPHTTP  int `json:"jaegerOTLPHTTP"`
	JaegerHealth    int `json:"jaegerHealth"`
	VictoriaLogs    int `json:"victoriaLogs"`
	Prometheus      int `json:"prometheus"`
	// The collector's ports; zero in the state of a stack started before
	// the collector joined it.
	CollectorOTLPGRPC int `json:"collectorOTLPGRPC,omitempty"`
	CollectorOTLPHTTP int `json:"collectorOTLPHTTP,omitempty"`
	CollectorHealth   int `json:"collectorHealth,omitempty"`
}

// DefaultPorts are the stores' usual ports, used by the demo stack.
var DefaultPorts = Ports{
	JaegerQueryHTTP: 16686, JaegerQueryGRPC: 16685, JaegerOTLPGRPC: 4317, JaegerOTLPHTTP: 4318, JaegerHealth: 13133,
	VictoriaLogs: 9428, Prometheus: 9090,
	// Not the usual OTLP ports: those are Jaeger's in this stack, and
	// docker-compose's collector uses 14317/14318.
	CollectorOTLPGRPC: 4417, CollectorOTLPHTTP: 4418, CollectorHealth: 13134,
}

// Process is one running store, recorded so it can be stopped by PID.
type Process struct {
	Name string `json:"name"`
	PID  int    `json:"pid"`
	// Started is the process's start time as ps reports it: with the
	// binary, what tells our process from a later one given the same PID.
	Started string   `json:"started,omitempty"`
	Binary  string   `json:"binary"`
	Args    []string `json:"args"`
	Log     string   `json:"log"`
	DataDir string   `json:"dataDir,omitempty"`
}

// Stack is a running set of stores and where to reach them.
type Stack struct {
	// Dir holds the stack's state file, configs, logs and data folders.
	Dir       string    `json:"dir"`
	Ports     Ports     `json:"ports"`
	Processes []Process `json:"processes"`
	Started   time.Time `json:"started"`
	// Only lists the stores this stack runs, when not all of them.
	Only []string `json:"only,omitempty"`
	// JaegerStorage is Jaeger's trace storage: "memory" (the default) or
	// "badger".
	JaegerStorage string `json:"jaegerStorage,omitempty"`
}

const stateFile = "stack.json"

// DefaultDir is where the demo stack (started by `mage stack:up`) keeps its
// state: outside the repository, in the cache folder.
func DefaultDir() string { return filepath.Join(CacheDir(), "run", "default") }

// URLs of the stores' APIs.
func (s *Stack) JaegerURL() string {
	return fmt.Sprintf("http://127.0.0.1:%d", s.Ports.JaegerQueryHTTP)
}
func (s *Stack) JaegerOTLPHTTPURL() string {
	return fmt.Sprintf("http://127.0.0.1:%d", s.Ports.JaegerOTLPHTTP)
}
func (s *Stack) VictoriaLogsURL() string {
	return fmt.Sprintf("http://127.0.0.1:%d", s.Ports.VictoriaLogs)
}
func (s *Stack) PrometheusURL() string { return fmt.Sprintf("http://127.0.0.1:%d", s.Ports.Prometheus) }

// HasCollector reports whether the stack runs the reference pipeline's
// collector in front of its stores.
func (s *Stack) HasCollector() bool { return s.process("collector") != nil }

// CollectorOTLPHTTPURL is the collector's OTLP/HTTP base URL (/v1/traces,
// /v1/logs, /v1/metrics below it).
func (s *Stack) CollectorOTLPHTTPURL() string {
	return fmt.Sprintf("http://127.0.0.1:%d", s.Ports.CollectorOTLPHTTP)
}

// CollectorOTLPGRPCAddr is the collector's OTLP/gRPC address.
func (s *Stack) CollectorOTLPGRPCAddr() string {
	return fmt.Sprintf("127.0.0.1:%d", s.Ports.CollectorOTLPGRPC)
}

// FreePorts picks unused loopback ports for a private stack.
func FreePorts() (Ports, error) {
	ps := make([]int, 10)
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for i := range ps {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return Ports{}, err
		}
		ls = append(ls, l)
		ps[i] = l.Addr().(*net.TCPAddr).Port
	}
	return Ports{JaegerQueryHTTP: ps[0], JaegerQueryGRPC: ps[1], JaegerOTLPGRPC: ps[2], JaegerOTLPHTTP: ps[3],
		JaegerHealth: ps[4], VictoriaLogs: ps[5], Prometheus: ps[6],
		CollectorOTLPGRPC: ps[7], CollectorOTLPHTTP: ps[8], CollectorHealth: ps[9]}, nil
}

// Options say where a stack runs and what it prints.
type Options struct {
	Dir   string
	Ports Ports
	// Out receives progress lines; nil discards them.
	Out io.Writer
	// ReadyTimeout bounds the wait for each store (default 60s).
	ReadyTimeout time.Duration
	// Only, if set, starts just these stores (by component name).
	Only []string
	// JaegerStorage picks Jaeger's storage: "memory" (default; a search
	// scans every trace it holds) or "badger" (on disk in the stack's
	// folder, with indexes: a search costs what it finds, as Jaeger's
	// production storages do). For measuring at store sizes.
	JaegerStorage string
}

// Start builds what is missing, then starts Jaeger, VictoriaLogs and
// Prometheus and waits until each answers its readiness endpoint. The
// processes outlive the caller; stop them with Stop.
func Start(ctx context.Context, o Options) (*Stack, error) {
	out := o.Out
	if out == nil {
		out = io.Discard
	}
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = 60 * time.Second
	}
	if existing, err := Load(o.Dir); err == nil && len(existing.alive()) > 0 {
		return nil, fmt.Errorf("a stack is already running from %s (pids %v); stop it first", o.Dir, existing.alive())
	}
	if o.JaegerStorage != "" && o.JaegerStorage != "memory" && o.JaegerStorage != "badger" {
		return nil, fmt.Errorf("jaeger storage %q: choose memory or badger", o.JaegerStorage)
	}
	s := &Stack{Dir: o.Dir, Ports: o.Ports, Started: time.Now(), Only: o.Only, JaegerStorage: o.JaegerStorage}
	for _, sp := range s.specs() {
		if err := sp.component.Build(ctx, out); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, err
	}
	start := time.Now()
	// The stores first, then the collector in front of them: it starts
	// sending as soon as it is up.
	for _, phase := range [][]spec{s.storeSpecs(), s.collectorSpecs()} {
		if err := s.startSpecs(ctx, phase, o.ReadyTimeout, start, out); err != nil {
			s.Stop(out)
			return nil, err
		}
	}
	fmt.Fprintf(out, "[%5.1fs] stack ready: jaeger %s, victorialogs %s, prometheus %s",
		time.Since(start).Seconds(), s.JaegerURL(), s.VictoriaLogsURL(), s.PrometheusURL())
	if s.HasCollector() {
		fmt.Fprintf(out, "; collector OTLP in at %s (HTTP) and %s (gRPC)", s.CollectorOTLPHTTPURL(), s.CollectorOTLPGRPCAddr())
	}
	fmt.Fprintln(out)
	return s, nil
}

// startSpecs launches processes, records them, and waits until each is ready.
func (s *Stack) startSpecs(ctx context.Context, specs []spec, timeout time.Duration, start time.Time, out io.Writer) error {
	for _, spec := range specs {
		if err := checkPortFree(spec.port); err != nil {
			return fmt.Errorf("%s: %w", spec.name, err)
		}
		p, err := s.launch(spec)
		if err != nil {
			return err
		}
		s.Processes = append(s.Processes, p)
		if err := s.save(); err != nil {
			return err
		}
	}
	for _, spec := range specs {
		if err := waitReady(ctx, spec, timeout, start, out, s); err != nil {
			return err
		}
	}
	return nil
}

// AddCollector starts the collector in front of a running stack that was
// started without one (a stack recorded before the collector joined it),
// on the given ports.
func (s *Stack) AddCollector(ctx context.Context, ports Ports, out io.Writer) error {
	if out == nil {
		out = io.Discard
	}
	if s.HasCollector() {
		return nil
	}
	c := componentByName("collector")
	if err := c.Build(ctx, out); err != nil {
		return err
	}
	s.Ports.CollectorOTLPGRPC, s.Ports.CollectorOTLPHTTP, s.Ports.CollectorHealth = ports.CollectorOTLPGRPC, ports.CollectorOTLPHTTP, ports.CollectorHealth
	if err := s.startSpecs(ctx, s.collectorSpecs(), 60*time.Second, time.Now(), out); err != nil {
		if p := s.process("collector"); p != nil {
			_ = StopProcess(*p, 10*time.Second)
		}
		return err
	}
	return nil
}

// Restart starts a stopped process of the stack again with the arguments
// it was recorded with, records its new PID and waits until it is ready.
func (s *Stack) Restart(ctx context.Context, name string, out io.Writer) error {
	if out == nil {
		out = io.Discard
	}
	p := s.process(name)
	if p == nil {
		return fmt.Errorf("the stack runs no %s", name)
	}
	if processAlive(*p) {
		return fmt.Errorf("%s is still running (pid %d)", name, p.PID)
	}
	for _, sp := range s.specs() {
		if sp.name != name {
			continue
		}
		np, err := s.launch(sp)
		if err != nil {
			return err
		}
		*p = np
		if err := s.save(); err != nil {
			return err
		}
		return waitReady(ctx, sp, 60*time.Second, time.Now(), out, s)
	}
	return fmt.Errorf("no spec for %s", name)
}

type spec struct {
	name      string
	component Component
	args      []string
	dataDir   string
	port      int
	readyURL  string
	readyBody string
	// collector: started after the stores, in front of them.
	collector bool
}

func componentByName(name string) Component {
	for _, c := range components {
		if c.Name == name {
			return c
		}
	}
	panic("unknown component " + name)
}

func (s *Stack) specs() []spec {
	vlData := filepath.Join(s.Dir, "data", "victorialogs")
	promData := filepath.Join(s.Dir, "data", "prometheus")
	all := []spec{
		{
			name:      "jaeger",
			component: componentByName("jaeger"),
			args:      []string{"--config=file:" + filepath.Join(s.Dir, "jaeger.yaml")},
			port:      s.Ports.JaegerQueryHTTP,
			readyURL:  fmt.Sprintf("http://127.0.0.1:%d/status", s.Ports.JaegerHealth),
		},
		{
			name:      "victorialogs",
			component: componentByName("victorialogs"),
			args: []string{
				"-httpListenAddr=127.0.0.1:" + strconv.Itoa(s.Ports.VictoriaLogs),
				"-storageDataPath=" + vlData,
				"-retentionPeriod=7d",
				"-loggerLevel=WARN",
			},
			dataDir:   vlData,
			port:      s.Ports.VictoriaLogs,
			readyURL:  fmt.Sprintf("http://127.0.0.1:%d/health", s.Ports.VictoriaLogs),
			readyBody: "OK",
		},
		{
			name:      "prometheus",
			component: componentByName("prometheus"),
			args: []string{
				"--config.file=" + filepath.Join(s.Dir, "prometheus.yaml"),
				"--web.listen-address=127.0.0.1:" + strconv.Itoa(s.Ports.Prometheus),
				"--web.enable-otlp-receiver",
				"--web.enable-remote-write-receiver",
				"--enable-feature=exemplar-storage",
				"--storage.tsdb.path=" + promData,
				"--log.level=warn",
			},
			dataDir:  promData,
			port:     s.Ports.Prometheus,
			readyURL: fmt.Sprintf("http://127.0.0.1:%d/-/ready", s.Ports.Prometheus),
		},
	}
	if s.Ports.CollectorOTLPHTTP != 0 {
		all = append(all, spec{
			name:      "collector",
			component: componentByName("collector"),
			args:      []string{"--config=file:" + filepath.Join(s.Dir, "collector.yaml")},
			dataDir:   filepath.Join(s.Dir, "data", "collector"),
			port:      s.Ports.CollectorOTLPHTTP,
			readyURL:  fmt.Sprintf("http://127.0.0.1:%d/", s.Ports.CollectorHealth),
			collector: true,
		})
	}
	if len(s.Only) == 0 {
		return all
	}
	var some []spec
	for _, sp := range all {
		if slices.Contains(s.Only, sp.name) {
			some = append(some, sp)
		}
	}
	return some
}

func (s *Stack) storeSpecs() []spec {
	var out []spec
	for _, sp := range s.specs() {
		if !sp.collector {
			out = append(out, sp)
		}
	}
	return out
}

func (s *Stack) collectorSpecs() []spec {
	var out []spec
	for _, sp := range s.specs() {
		if sp.collector {
			out = append(out, sp)
		}
	}
	return out
}

func (s *Stack) writeConfigs() error {
	t, err := template.ParseFS(configs, "configs/jaeger.yaml.tmpl")
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	err = t.Execute(&buf, map[string]any{
		"HealthPort": s.Ports.JaegerHealth, "QueryHTTPPort": s.Ports.JaegerQueryHTTP, "QueryGRPCPort": s.Ports.JaegerQueryGRPC,
		"OTLPGRPCPort": s.Ports.JaegerOTLPGRPC, "OTLPHTTPPort": s.Ports.JaegerOTLPHTTP,
		"Badger": s.JaegerStorage == "badger", "BadgerDir": filepath.Join(s.Dir, "data", "jaeger-badger"),
	})
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(s.Dir, "jaeger.yaml"), buf.Bytes(), 0o644); err != nil {
		return err
	}
	prom, err := configs.ReadFile("configs/prometheus.yaml")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(s.Dir, "prometheus.yaml"), prom, 0o644); err != nil {
		return err
	}
	if s.Ports.CollectorOTLPHTTP == 0 {
		return nil
	}
	col, err := RenderCollectorConfig(s.collectorConfig())
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(s.Dir, "collector.yaml"), col, 0o644)
}

func (s *Stack) launch(sp spec) (Process, error) {
	if err := s.writeConfigs(); err != nil {
		return Process{}, err
	}
	if sp.dataDir != "" {
		if err := os.MkdirAll(sp.dataDir, 0o755); err != nil {
			return Process{}, err
		}
	}
	logPath := filepath.Join(s.Dir, sp.name+".log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return Process{}, err
	}
	defer logFile.Close()
	bin := sp.component.BinaryPath()
	cmd := exec.Command(bin, sp.args...)
	cmd.Dir = s.Dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Its own session: the store outlives the command that started it and
	// gets no signal meant for that command's terminal.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return Process{}, fmt.Errorf("starting %s: %w", sp.name, err)
	}
	go cmd.Wait() // reap it if it exits while we are alive
	p := Process{Name: sp.name, PID: cmd.Process.Pid, Binary: bin, Args: sp.args, Log: logPath, DataDir: sp.dataDir}
	if info, ok := inspectProcess(p.PID); ok {
		p.Started = info.started
	}
	return p, nil
}

func checkPortFree(port int) error {
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return fmt.Errorf("port 127.0.0.1:%d is taken by another program", port)
	}
	return l.Close()
}

func waitReady(ctx context.Context, sp spec, timeout time.Duration, start time.Time, out io.Writer, s *Stack) error {
	deadline := time.Now().Add(timeout)
	fmt.Fprintf(out, "[%5.1fs] %-13s waiting for %s\n", time.Since(start).Seconds(), sp.name, sp.readyURL)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		if ok, _ := probe(ctx, client, sp.readyURL, sp.readyBody); ok {
			fmt.Fprintf(out, "[%5.1fs] %-13s ready\n", time.Since(start).Seconds(), sp.name)
			return nil
		}
		if p := s.process(sp.name); p != nil && !processAlive(*p) {
			return fmt.Errorf("%s exited during start; its log %s ends with:\n%s", sp.name, p.Log, tailFile(p.Log, 2000))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s at %s", sp.name, timeout, sp.readyURL)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func probe(ctx context.Context, client *http.Client, url, wantBody string) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("status %d", resp.StatusCode)
	}
	if wantBody != "" && strings.TrimSpace(string(body)) != wantBody {
		return false, fmt.Errorf("unexpected body %q", body)
	}
	return true, nil
}

func (s *Stack) process(name string) *Process {
	for i := range s.Processes {
		if s.Processes[i].Name == name {
			return &s.Processes[i]
		}
	}
	return nil
}

func (s *Stack) save() error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(s.Dir, stateFile+".tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(s.Dir, stateFile))
}

// Load reads a stack's recorded state from its folder.
func Load(dir string) (*Stack, error) {
	b, err := os.ReadFile(filepath.Join(dir, stateFile)) // #nosec G304 G703 -- the stack's own folder, chosen by the developer or the test
	if err != nil {
		return nil, err
	}
	var s Stack
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, stateFile), err)
	}
	return &s, nil
}

func (s *Stack) alive() []int {
	var pids []int
	for _, p := range s.Processes {
		if processAlive(p) {
			pids = append(pids, p.PID)
		}
	}
	return pids
}

// Stop stops every recorded process by its PID (SIGTERM, then SIGKILL after
// 10 s) and forgets the stack. Data folders stay in the stack's folder.
func (s *Stack) Stop(out io.Writer) error {
	if out == nil {
		out = io.Discard
	}
	var errs []error
	for i := len(s.Processes) - 1; i >= 0; i-- {
		if err := StopProcess(s.Processes[i], 10*time.Second); err != nil {
			errs = append(errs, err)
		} else {
			fmt.Fprintf(out, "  %-13s stopped (pid %d)\n", s.Processes[i].Name, s.Processes[i].PID)
		}
	}
	if len(errs) == 0 {
		_ = os.Remove(filepath.Join(s.Dir, stateFile))
	}
	return errors.Join(errs...)
}

// StopProcess stops one recorded process by PID, if it is still ours.
func StopProcess(p Process, grace time.Duration) error {
	if !processAlive(p) {
		return nil
	}
	proc, err := os.FindProcess(p.PID)
	if err != nil {
		return nil
	}
	_ = proc.Signal(syscall.SIGTERM)
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		if !processAlive(p) {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := proc.Signal(syscall.SIGKILL); err != nil && processAlive(p) {
		return fmt.Errorf("stopping %s (pid %d): %w", p.Name, p.PID, err)
	}
	for i := 0; i < 50 && processAlive(p); i++ {
		time.Sleep(100 * time.Millisecond)
	}
	return nil
}

// Status is one store's line in a status report.
type Status struct {
	Name    string
	PID     int
	Running bool
	Ready   bool
	URL     string
}

// Status reports, for each recorded store, whether its process runs and its
// readiness endpoint answers.
func (s *Stack) Status(ctx context.Context) []Status {
	client := &http.Client{Timeout: 2 * time.Second}
	var out []Status
	for _, sp := range s.specs() {
		st := Status{Name: sp.name, URL: sp.readyURL}
		if p := s.process(sp.name); p != nil {
			st.PID = p.PID
			st.Running = processAlive(*p)
		}
		st.Ready, _ = probe(ctx, client, sp.readyURL, sp.readyBody)
		out = append(out, st)
	}
	return out
}

// Healthy reports whether every store of the stack runs and is ready.
func (s *Stack) Healthy(ctx context.Context) bool {
	for _, st := range s.Status(ctx) {
		if !st.Running || !st.Ready {
			return false
		}
	}
	return true
}

func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
