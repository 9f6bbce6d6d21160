package stack

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestComponentsPinned(t *testing.T) {
	names := map[string]bool{}
	for _, c := range Components() {
		names[c.Name] = true
		assert.Regexp(t, `^v\d+\.\d+\.\d+$`, c.Version, c.Name)
		assert.Contains(t, c.BinaryPath(), c.Name+"-"+c.Version, "cache is keyed by version")
	}
	assert.Equal(t, map[string]bool{"jaeger": true, "victorialogs": true, "prometheus": true, "collector": true}, names)
}

func TestGoCmdKeepsChecksumVerificationOn(t *testing.T) {
	t.Setenv("GONOSUMDB", "*")
	t.Setenv("GOFLAGS", "-insecure")
	t.Setenv("GOSUMDB", "off")
	cmd := goCmd(context.Background(), "", "version")
	for _, kv := range cmd.Env {
		assert.NotEqual(t, "GONOSUMDB=*", kv)
		assert.NotEqual(t, "GOSUMDB=off", kv)
		assert.NotEqual(t, "GOFLAGS=-insecure", kv)
	}
}

// Starting, reporting and stopping one real store (VictoriaLogs: the one that
// builds in about a minute) on free loopback ports.
func TestStartStatusStopVictoriaLogs(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds and runs a real VictoriaLogs")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	ports, err := FreePorts()
	require.NoError(t, err)
	dir := t.TempDir()
	s, err := Start(ctx, Options{Dir: dir, Ports: ports, Only: []string{"victorialogs"}, Out: testWriter{t}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Stop(nil) })

	loaded, err := Load(dir)
	require.NoError(t, err)
	require.Len(t, loaded.Processes, 1)
	pid := loaded.Processes[0].PID
	assert.NotEmpty(t, loaded.Processes[0].Started, "the start time is recorded, to tell a reused PID")
	assert.True(t, loaded.Healthy(ctx))

	_, err = Start(ctx, Options{Dir: dir, Ports: ports, Only: []string{"victorialogs"}})
	assert.ErrorContains(t, err, "already running", "a second start in the same folder is refused")

	// Stopped by its recorded PID and started again with the same arguments.
	require.ErrorContains(t, loaded.Restart(ctx, "victorialogs", nil), "still running")
	require.NoError(t, StopProcess(loaded.Processes[0], 10*time.Second))
	require.NoError(t, loaded.Restart(ctx, "victorialogs", nil))
	assert.NotEqual(t, pid, loaded.Processes[0].PID)
	pid = loaded.Processes[0].PID
	reloaded, err := Load(dir)
	require.NoError(t, err)
	assert.Equal(t, pid, reloaded.Processes[0].PID, "the new PID is recorded")
	assert.True(t, loaded.Healthy(ctx))

	require.NoError(t, loaded.Stop(nil))
	assert.False(t, processAlive(loaded.Processes[0]), "pid %d stopped", pid)
	_, err = os.Stat(dir + "/" + stateFile)
	assert.True(t, os.IsNotExist(err), "state forgotten after stop")
	st := loaded.Status(ctx)
	require.Len(t, st, 1)
	assert.False(t, st[0].Running)
	assert.False(t, st[0].Ready)
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// The reference copy in deploy/collector is the template rendered for the
// reference settings: edit the template, then run
// `go run ./cmd/stitch-stack collector-config > deploy/collector/stitch-collector.yaml`.
func TestReferenceCollectorConfigIsCurrent(t *testing.T) {
	want, err := RenderCollectorConfig(ReferenceCollectorConfig(CollectorSamplingRate))
	require.NoError(t, err)
	got, err := os.ReadFile("../../deploy/collector/stitch-collector.yaml")
	require.NoError(t, err)
	assert.Equal(t, string(want), string(got), "deploy/collector/stitch-collector.yaml is stale")
}

func TestCollectorConfigFollowsTheSchema(t *testing.T) {
	s := &Stack{Dir: "/tmp/x", Ports: DefaultPorts}
	b, err := RenderCollectorConfig(s.collectorConfig())
	require.NoError(t, err)
	cfg := string(b)
	// The session rule at rate 0.9 as a string comparison (pkg/schema
	// proves it equal to the rule on every vector).
	assert.Contains(t, cfg, `span.attributes["session.id"] < "e6666666666668000000000000000000"`)
	assert.Contains(t, cfg, `>= 3000000000`, "latency threshold of the schema, in ns")
	for _, f := range []string{`url\\.full`, `client\\.address`, `user\\.email`, `device\\.name`} {
		assert.Contains(t, cfg, f)
	}
	assert.Contains(t, cfg, "127.0.0.1:4418")
	assert.Contains(t, cfg, "http://127.0.0.1:9428/insert/opentelemetry/v1/logs")
	assert.Contains(t, cfg, "http://127.0.0.1:9090/api/v1/otlp/v1/metrics")
	assert.Contains(t, cfg, "endpoint: 127.0.0.1:4317", "traces go to Jaeger's OTLP gRPC port")
	assert.NotContains(t, cfg, "0.0.0.0")

	all, err := RenderCollectorConfig(CollectorConfig{SamplingRate: 1, QueueSize: 1})
	require.NoError(t, err)
	assert.NotContains(t, string(all), `span.attributes["session.id"] <`, "rate 1 samples every session")
	_, err = RenderCollectorConfig(CollectorConfig{SamplingRate: 2})
	assert.Error(t, err)
}
