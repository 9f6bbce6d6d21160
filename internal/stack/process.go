package stack

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// How a recorded store process is found again, on Linux and macOS alike:
// signal 0 says whether the PID exists, and ps (the same options on both)
// says what runs under it, so a PID the system gave to another program since
// is never taken for ours, nor signalled.

// processInfo is what ps reports of a live process.
type processInfo struct {
	// state is ps's STAT: "Z…" for a zombie.
	state string
	// started is the start time (ps's lstart), whitespace-normalised.
	started string
	// command is the full command line, binary first.
	command string
}

// inspectProcess asks ps about pid; false if there is no such process.
func inspectProcess(pid int) (processInfo, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ps", "-ww", "-p", strconv.Itoa(pid), "-o", "stat=", "-o", "lstart=", "-o", "command=")
	// lstart's words (weekday, month) follow the locale; keep them stable
	// between the start that records them and a later check.
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	out, err := cmd.Output()
	if err != nil {
		return processInfo{}, false // ps exits 1 when no process matches
	}
	return parsePS(strings.TrimRight(string(out), "\n"))
}

// parsePS reads one line of `ps -o stat= -o lstart= -o command=`: the state,
// five words of start time ("Thu Nov 26 09:18:13 2026"), then the command.
func parsePS(line string) (processInfo, bool) {
	words, rest := cutWords(line, 6)
	if len(words) < 6 || rest == "" {
		return processInfo{}, false
	}
	return processInfo{state: words[0], started: strings.Join(words[1:], " "), command: rest}, true
}

// cutWords splits the first n blank-separated words off s and returns them
// and the rest of s, its inner spacing kept.
func cutWords(s string, n int) ([]string, string) {
	var words []string
	for range n {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			break
		}
		i := strings.IndexAny(s, " \t")
		if i < 0 {
			words, s = append(words, s), ""
			break
		}
		words, s = append(words, s[:i]), s[i:]
	}
	return words, strings.TrimLeft(s, " \t")
}

// processAlive checks that the recorded PID is still the process we started:
// it exists, is no zombie, runs our binary and, when the start time was
// recorded, started then.
func processAlive(p Process) bool {
	if p.PID <= 0 {
		return false
	}
	// Signal 0 checks existence and permission without signalling: ESRCH
	// (gone) and EPERM (another user's process) both mean not ours.
	if err := syscall.Kill(p.PID, 0); err != nil {
		return false
	}
	info, ok := inspectProcess(p.PID)
	if !ok || strings.HasPrefix(info.state, "Z") {
		return false
	}
	if p.Started != "" && !sameStart(info.started, p.Started) {
		return false
	}
	// The stores are started by their absolute path, so that is how their
	// command line begins.
	return info.command == p.Binary || strings.HasPrefix(info.command, p.Binary+" ")
}

// sameStart compares two of ps's start times. Linux derives them from the
// boot time, which the kernel can report a second apart between two reads
// on a busy machine, so a difference of up to two seconds is the same
// start; a reused PID is not started by our binary within two seconds.
func sameStart(a, b string) bool {
	if a == b {
		return true
	}
	const layout = "Mon Jan _2 15:04:05 2006"
	ta, errA := time.Parse(layout, a)
	tb, errB := time.Parse(layout, b)
	if errA != nil || errB != nil {
		return false
	}
	d := ta.Sub(tb)
	return d >= -2*time.Second && d <= 2*time.Second
}
