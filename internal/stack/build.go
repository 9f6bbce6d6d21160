// Package stack builds, starts, stops and reports on the real stores Stitch is
// tested and demonstrated against — Jaeger v2 (traces), VictoriaLogs (logs)
// and Prometheus (metrics, exemplars) — built from the Go module proxy at the
// pinned versions, checksums verified, binaries cached outside the
// repository, every listener on 127.0.0.1.
package stack

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

type buildMethod int

const (
	installModule buildMethod = iota // go install module/pkg@version
	toolModule                       // go get -tool in a module of our own, then go build
	sourceModule                     // go build of a module inside the repository, go.sum verified
)

// Component is one store binary at a pinned version.
type Component struct {
	Name      string
	Module    string
	Version   string
	Package   string
	Binary    string
	Method    buildMethod
	ColdBuild string
}

// Components lists the pinned stores.
func Components() []Component { return append([]Component(nil), components...) }

// CacheDir is where Stitch keeps built binaries and run state:
// $XDG_CACHE_HOME/stitch, or ~/.cache/stitch.
func CacheDir() string {
	if d := os.Getenv("STITCH_CACHE_DIR"); d != "" {
		return d
	}
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return filepath.Join(os.TempDir(), "stitch-cache")
		}
		base = filepath.Join(home, ".cache")
	}
	return filepath.Join(base, "stitch")
}

// BinaryPath is where a component's binary is cached, keyed by version
// (and, for a module built from the repository, by a hash of its source).
func (c Component) BinaryPath() string {
	key := c.Name + "-" + c.Version
	if c.Method == sourceModule {
		if dir, err := collectorSource(); err == nil {
			if h, err := sourceHash(dir); err == nil {
				key += "-" + h
			}
		}
	}
	return filepath.Join(CacheDir(), "stack", key, c.Binary)
}

// Cached reports whether the component's binary is already built.
func (c Component) Cached() bool {
	fi, err := os.Stat(c.BinaryPath())
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// BuildAll builds every component that is not cached yet, one after another
// (each go build uses every core), printing progress to w.
func BuildAll(ctx context.Context, w io.Writer) error {
	for _, c := range components {
		if err := c.Build(ctx, w); err != nil {
			return err
		}
	}
	return nil
}

// Build builds one component unless it is cached.
func (c Component) Build(ctx context.Context, w io.Writer) error {
	if c.Cached() {
		fmt.Fprintf(w, "  %-13s %s cached at %s\n", c.Name, c.Version, c.BinaryPath())
		return nil
	}
	fmt.Fprintf(w, "  %-13s %s building from the Go module proxy (cold: %s on 2 cores)…\n", c.Name, c.Version, c.ColdBuild)
	start := time.Now()
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(30 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				fmt.Fprintf(w, "  %-13s still building… %s\n", c.Name, time.Since(start).Round(time.Second))
			}
		}
	}()
	err := c.build(ctx)
	close(done)
	if err != nil {
		return fmt.Errorf("building %s %s: %w", c.Name, c.Version, err)
	}
	fmt.Fprintf(w, "  %-13s built in %s\n", c.Name, time.Since(start).Round(time.Second))
	return nil
}

func (c Component) build(ctx context.Context) error {
	dir := filepath.Dir(c.BinaryPath())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// Build into a temporary folder, then rename: an interrupted build never
	// leaves a binary that looks cached.
	tmp, err := os.MkdirTemp(dir, ".build-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	tmpBin := filepath.Join(tmp, c.Binary)
	pkg := c.Module + "/" + c.Package

	switch c.Method {
	case installModule:
		cmd := goCmd(ctx, "", "install", pkg+"@"+c.Version)
		cmd.Env = append(cmd.Env, "GOBIN="+tmp)
		if err := run(cmd); err != nil {
			return err
		}
	case sourceModule:
		src, err := collectorSource()
		if err != nil {
			return err
		}
		// -mod=mod: dependencies resolve from go.mod and are verified
		// against go.sum and the checksum database (goCmd keeps it on).
		cmd := goCmd(ctx, src, "build", "-mod=mod", "-o", tmpBin, ".")
		if err := run(cmd); err != nil {
			return err
		}
	case toolModule:
		src := filepath.Join(CacheDir(), "stack", "src", c.Name+"-"+c.Version)
		if err := os.MkdirAll(src, 0o755); err != nil {
			return err
		}
		if _, err := os.Stat(filepath.Join(src, "go.mod")); err != nil {
			if err := run(goCmd(ctx, src, "mod", "init", "stitch.local/stack/"+c.Name)); err != nil {
				return err
			}
		}
		if err := run(goCmd(ctx, src, "get", "-tool", pkg+"@"+c.Version)); err != nil {
			return err
		}
		if err := run(goCmd(ctx, src, "build", "-o", tmpBin, pkg)); err != nil {
			return err
		}
	}
	return os.Rename(tmpBin, c.BinaryPath())
}

// goCmd runs the go command with module checksum verification forced on,
// whatever the caller's environment says.
func goCmd(ctx context.Context, dir string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	env := os.Environ()
	out := env[:0]
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "GOFLAGS", "GONOSUMDB", "GONOSUMCHECK", "GONOSUMVERIFY", "GOINSECURE", "GOPRIVATE", "GONOPROXY", "GOWORK":
			continue
		case "GOSUMDB":
			if strings.TrimSpace(strings.SplitN(kv, "=", 2)[1]) == "off" {
				continue
			}
		}
		out = append(out, kv)
	}
	cmd.Env = append(out, "GOFLAGS=-trimpath", "GOWORK=off")
	return cmd
}

func run(cmd *exec.Cmd) error {
	out, err := cmd.CombinedOutput()
	if err != nil {
		tail := string(out)
		if len(tail) > 4000 {
			tail = "…" + tail[len(tail)-4000:]
		}
		return fmt.Errorf("%s: %w\n%s", strings.Join(cmd.Args, " "), err, tail)
	}
	return nil
}
