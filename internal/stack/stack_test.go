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
	assert.Equal(t, map[string]bool{"jaeger": true, "victorialogs": true, "prometheus": true}, names)
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
