// Package pluginharness runs Stitch's plugin binary the way Grafana does —
// started through hashicorp/go-plugin with the SDK's handshake, called over
// gRPC — so tests and the demo exercise the real protocol without a Grafana
// server. Requests carry instance settings and decrypted secure JSON exactly
// as Grafana sends them.
package pluginharness

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/grpcplugin"
	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"
	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
)

// PluginID is the ID Grafana passes in every request's plugin context.
const PluginID = "stitch-sessions-datasource"

// Build compiles the plugin binary from the module at moduleRoot into outDir,
// named as the SDK's build names it for this platform.
func Build(ctx context.Context, moduleRoot, outDir string) (string, error) {
	bin := filepath.Join(outDir, fmt.Sprintf("gpx_stitch_%s_%s", runtime.GOOS, runtime.GOARCH))
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./pkg")
	cmd.Dir = moduleRoot
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build ./pkg: %w\n%s", err, out)
	}
	return bin, nil
}

// ModuleRoot finds the Go module root from the working directory upwards.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Plugin is a running plugin process and its gRPC clients.
type Plugin struct {
	client      *goplugin.Client
	data        pluginv2.DataClient
	diagnostics pluginv2.DiagnosticsClient
	resource    pluginv2.ResourceClient
	logs        *SyncBuffer
	cmd         *exec.Cmd
}

// Start launches the plugin binary with go-plugin's client, negotiating the
// SDK's handshake and protocol version as Grafana does.
func Start(binary string) (*Plugin, error) {
	logs := &SyncBuffer{}
	logger := hclog.New(&hclog.LoggerOptions{Name: "plugin", Output: logs, Level: hclog.Debug, JSONFormat: false})
	cmd := exec.Command(binary)
	c := goplugin.NewClient(&goplugin.ClientConfig{
		HandshakeConfig: goplugin.HandshakeConfig{
			ProtocolVersion:  grpcplugin.ProtocolVersion,
			MagicCookieKey:   grpcplugin.MagicCookieKey,
			MagicCookieValue: grpcplugin.MagicCookieValue,
		},
		VersionedPlugins: map[int]goplugin.PluginSet{
			grpcplugin.ProtocolVersion: {
				"data":        &grpcplugin.DataGRPCPlugin{},
				"diagnostics": &grpcplugin.DiagnosticsGRPCPlugin{},
				"resource":    &grpcplugin.ResourceGRPCPlugin{},
			},
		},
		Cmd:              cmd,
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		Logger:           logger,
		Stderr:           logs,
		StartTimeout:     30 * time.Second,
	})
	rpc, err := c.Client()
	if err != nil {
		c.Kill()
		return nil, fmt.Errorf("starting plugin %s: %w\n%s", binary, err, logs.String())
	}
	p := &Plugin{client: c, logs: logs, cmd: cmd}
	for name, dst := range map[string]any{"data": &p.data, "diagnostics": &p.diagnostics, "resource": &p.resource} {
		raw, err := rpc.Dispense(name)
		if err != nil {
			c.Kill()
			return nil, fmt.Errorf("dispensing %s: %w", name, err)
		}
		switch d := dst.(type) {
		case *pluginv2.DataClient:
			*d = raw.(pluginv2.DataClient)
		case *pluginv2.DiagnosticsClient:
			*d = raw.(pluginv2.DiagnosticsClient)
		case *pluginv2.ResourceClient:
			*d = raw.(pluginv2.ResourceClient)
		}
	}
	return p, nil
}

// Stop kills the plugin process.
func (p *Plugin) Stop() { p.client.Kill() }

// Exited reports whether the plugin process has exited (e.g. crashed).
func (p *Plugin) Exited() bool { return p.client.Exited() }

// Logs is everything the plugin wrote to its log and stderr so far.
func (p *Plugin) Logs() string { return p.logs.String() }

var instanceIDs atomic.Int64

// Instance is a configured data source as Grafana holds it.
type Instance struct {
	ID       int64
	UID      string
	Name     string
	JSONData json.RawMessage
	// Secure is the decrypted secureJsonData Grafana passes to the plugin.
	Secure  map[string]string
	Updated time.Time
	// Anonymous sends requests with no Grafana user, as no real Grafana
	// does: to test that routes refuse them.
	Anonymous bool
}

// NewInstance returns data source settings with a fresh ID and update time,
// so the plugin's instance manager builds a new instance for them.
func NewInstance(jsonData any, secure map[string]string) (Instance, error) {
	raw, err := json.Marshal(jsonData)
	if err != nil {
		return Instance{}, err
	}
	id := instanceIDs.Add(1)
	return Instance{ID: id, UID: fmt.Sprintf("stitch-%d", id), Name: "Stitch", JSONData: raw, Secure: secure, Updated: time.Now()}, nil
}

func (i Instance) pluginContext() backend.PluginContext {
	user := &backend.User{Login: "admin", Name: "admin", Role: "Admin"}
	if i.Anonymous {
		user = nil
	}
	return backend.PluginContext{
		OrgID:         1,
		PluginID:      PluginID,
		PluginVersion: "dev",
		User:          user,
		DataSourceInstanceSettings: &backend.DataSourceInstanceSettings{
			ID:                      i.ID,
			UID:                     i.UID,
			Name:                    i.Name,
			Type:                    PluginID,
			JSONData:                i.JSONData,
			DecryptedSecureJSONData: i.Secure,
			Updated:                 i.Updated,
		},
	}
}

// PID is the plugin process's ID.
func (p *Plugin) PID() int { return p.cmd.Process.Pid }

// CollectMetrics calls the plugin's CollectMetrics over gRPC, as Grafana
// does to scrape a plugin: the SDK's Prometheus registry in text format
// (the Go runtime's go_goroutines, the process's RSS and threads among it).
func (p *Plugin) CollectMetrics(ctx context.Context) ([]byte, error) {
	res, err := p.diagnostics.CollectMetrics(ctx, &pluginv2.CollectMetricsRequest{})
	if err != nil {
		return nil, err
	}
	return res.GetMetrics().GetPrometheus(), nil
}

// CheckHealth calls the plugin's CheckHealth over gRPC.
func (p *Plugin) CheckHealth(ctx context.Context, inst Instance) (*backend.CheckHealthResult, error) {
	res, err := p.diagnostics.CheckHealth(ctx, &pluginv2.CheckHealthRequest{
		PluginContext: backend.ToProto().PluginContext(inst.pluginContext()),
	})
	if err != nil {
		return nil, err
	}
	return backend.FromProto().CheckHealthResponse(res), nil
}

// QueryData calls the plugin's QueryData over gRPC; frames come back as Arrow
// and are decoded as Grafana decodes them.
func (p *Plugin) QueryData(ctx context.Context, inst Instance, queries ...backend.DataQuery) (*backend.QueryDataResponse, error) {
	req := &backend.QueryDataRequest{PluginContext: inst.pluginContext(), Queries: queries}
	res, err := p.data.QueryData(ctx, backend.ToProto().QueryDataRequest(req))
	if err != nil {
		return nil, err
	}
	return backend.FromProto().QueryDataResponse(res)
}

// Query builds a DataQuery from a query model (marshalled to JSON) and a time range.
func Query(refID string, model any, from, to time.Time) (backend.DataQuery, error) {
	raw, err := json.Marshal(model)
	if err != nil {
		return backend.DataQuery{}, err
	}
	var qt struct {
		QueryType string `json:"queryType"`
	}
	_ = json.Unmarshal(raw, &qt)
	return backend.DataQuery{
		RefID:         refID,
		QueryType:     qt.QueryType,
		JSON:          raw,
		TimeRange:     backend.TimeRange{From: from, To: to},
		Interval:      time.Minute,
		MaxDataPoints: 1000,
	}, nil
}

// CallResource calls a resource route over gRPC and gathers the streamed
// response as Grafana does.
func (p *Plugin) CallResource(ctx context.Context, inst Instance, method, path string, body []byte) (*backend.CallResourceResponse, error) {
	req := &backend.CallResourceRequest{
		PluginContext: inst.pluginContext(),
		Path:          path,
		Method:        method,
		URL:           "/api/datasources/uid/" + inst.UID + "/resources/" + path,
		Body:          body,
	}
	stream, err := p.resource.CallResource(ctx, backend.ToProto().CallResourceRequest(req))
	if err != nil {
		return nil, err
	}
	var out *backend.CallResourceResponse
	for {
		chunk, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		r := backend.FromProto().CallResourceResponse(chunk)
		if out == nil {
			out = r
			continue
		}
		out.Body = append(out.Body, r.Body...)
	}
	if out == nil {
		return nil, errors.New("resource call returned no response")
	}
	return out, nil
}

// SyncBuffer is a goroutine-safe buffer for the plugin's log output.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
