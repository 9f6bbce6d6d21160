package stack

import (
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParsePS(t *testing.T) {
	cases := map[string]struct {
		line string
		want processInfo
	}{
		"linux": {"Ssl  Thu Nov 26 09:18:13 2026 /root/.cache/stitch/bin/victorialogs-v1.2.3 -httpListenAddr=127.0.0.1:9428",
			processInfo{"Ssl", "Thu Nov 26 09:18:13 2026", "/root/.cache/stitch/bin/victorialogs-v1.2.3 -httpListenAddr=127.0.0.1:9428"}},
		"padded day": {"S    Thu Nov  6 09:18:13 2026 /bin/sleep 30",
			processInfo{"S", "Thu Nov 6 09:18:13 2026", "/bin/sleep 30"}},
		"macOS path with spaces": {"Ss   Wed Nov 25 10:00:00 2026 /Users/me/Library/Application Support/stitch/prometheus --config.file=x",
			processInfo{"Ss", "Wed Nov 25 10:00:00 2026", "/Users/me/Library/Application Support/stitch/prometheus --config.file=x"}},
		"zombie": {"Z    Wed Nov 25 10:00:00 2026 [sleep] <defunct>",
			processInfo{"Z", "Wed Nov 25 10:00:00 2026", "[sleep] <defunct>"}},
	}
	for name, c := range cases {
		got, ok := parsePS(c.line)
		require.True(t, ok, name)
		assert.Equal(t, c.want, got, name)
	}
	for _, bad := range []string{"", "S", "S Thu Nov 26 09:18:13 2026"} {
		_, ok := parsePS(bad)
		assert.False(t, ok, bad)
	}
}

// startSleeper starts a process the way the stack starts a store (by its
// absolute path) and records it as the stack does.
func startSleeper(t *testing.T) (Process, *exec.Cmd) {
	t.Helper()
	bin, err := exec.LookPath("sleep")
	require.NoError(t, err)
	cmd := exec.Command(bin, "30")
	require.NoError(t, cmd.Start())
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})
	info, ok := inspectProcess(cmd.Process.Pid)
	require.True(t, ok)
	return Process{Name: "sleeper", PID: cmd.Process.Pid, Binary: bin, Started: info.started}, cmd
}

func TestProcessAliveKnowsItsOwnProcess(t *testing.T) {
	p, _ := startSleeper(t)
	assert.True(t, processAlive(p))

	legacy := p
	legacy.Started = "" // a state file from before start times were recorded
	assert.True(t, processAlive(legacy))

	// The PID given to another program since: a different start time, or
	// another binary.
	reused := p
	reused.Started = "Mon Jan 1 00:00:00 2024"
	assert.False(t, processAlive(reused))
	other := p
	other.Binary = "/not/our/binary"
	assert.False(t, processAlive(other))
	prefix := p
	prefix.Binary = p.Binary[:len(p.Binary)-1]
	assert.False(t, processAlive(prefix), "a binary whose path merely starts the same is not ours")

	assert.False(t, processAlive(Process{PID: 0, Binary: p.Binary}))
}

// A recorded PID that now belongs to another process is never signalled.
func TestStopProcessLeavesOthersAlone(t *testing.T) {
	p, _ := startSleeper(t)
	reused := p
	reused.Started = "Mon Jan 1 00:00:00 2024"
	require.NoError(t, StopProcess(reused, time.Second))
	assert.NoError(t, syscall.Kill(p.PID, 0), "the process still runs")
	assert.True(t, processAlive(p))
}

func TestStopProcessStopsOurs(t *testing.T) {
	p, _ := startSleeper(t)
	require.NoError(t, StopProcess(p, 5*time.Second))
	assert.False(t, processAlive(p))
}

func TestSameStartAllowsTheBootTimesJitter(t *testing.T) {
	for _, c := range []struct {
		a, b string
		same bool
	}{
		{"Thu Nov 26 09:18:13 2026", "Thu Nov 26 09:18:13 2026", true},
		{"Thu Nov 26 09:18:13 2026", "Thu Nov 26 09:18:14 2026", true},
		{"Thu Nov 26 09:18:59 2026", "Thu Nov 26 09:19:01 2026", true},
		{"Thu Nov 26 09:18:13 2026", "Thu Nov 26 09:18:17 2026", false},
		{"Thu Nov  5 09:18:13 2026", "Thu Nov  5 09:18:13 2026", true},
		{"garbage", "Thu Nov 26 09:18:13 2026", false},
	} {
		if got := sameStart(c.a, c.b); got != c.same {
			t.Errorf("sameStart(%q, %q) = %v, want %v", c.a, c.b, got, c.same)
		}
	}
}
