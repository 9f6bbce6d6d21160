package stack

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/stitch-observability/stitch/pkg/schema"
)

// The collector: Stitch's reference pipeline, run by the local stack between
// the senders (the demo world, an app, backends) and the stores.

// CollectorRelease is the OpenTelemetry Collector release every collector
// module is pinned at (contrib v0.161.0 with core v0.161.0 / v1.67.0): the
// newest at which the proxy serves everything the pipeline needs.
const CollectorRelease = "v0.161.0"

// collectorSourceDir is the collector's own Go module inside the repository.
const collectorSourceDir = "internal/stack/collector"

// CollectorSamplingRate is the session sampling rate the local stack's
// collector applies. It must equal the rate the senders stamp
// (stitch.sampling.rate): the demo world's app uses the same value.
const CollectorSamplingRate = 0.9

// CollectorQueueSize bounds each store's persistent sending queue, in
// requests (one batch of up to 4096 spans, records or data points each).
const CollectorQueueSize = 10000

// CollectorConfig is what the reference pipeline template is filled with.
type CollectorConfig struct {
	// Generated marks the reference copy (deploy/collector).
	Generated bool
	// Loopback or external endpoints (host:port) and store URLs.
	OTLPGRPCEndpoint, OTLPHTTPEndpoint, HealthEndpoint string
	TracesEndpoint                                     string // host:port, OTLP gRPC
	LogsEndpoint, MetricsEndpoint                      string // full OTLP/HTTP URLs
	StorageDir                                         string
	SamplingRate                                       float64
	// DecisionWait is how long the tail sampler waits for a trace's spans.
	DecisionWait time.Duration
	// MetricsFlushInterval is how often request histograms are sent.
	MetricsFlushInterval time.Duration
	QueueSize            int
}

// ReferenceCollectorConfig is the reference copy's configuration: endpoints
// from environment variables with the usual local defaults.
func ReferenceCollectorConfig(rate float64) CollectorConfig {
	return CollectorConfig{
		Generated:            true,
		OTLPGRPCEndpoint:     "${env:STITCH_OTLP_GRPC_ENDPOINT:-127.0.0.1:4317}",
		OTLPHTTPEndpoint:     "${env:STITCH_OTLP_HTTP_ENDPOINT:-127.0.0.1:4318}",
		HealthEndpoint:       "${env:STITCH_COLLECTOR_HEALTH_ENDPOINT:-127.0.0.1:13133}",
		TracesEndpoint:       "${env:STITCH_TRACES_OTLP_GRPC_ENDPOINT:-127.0.0.1:14317}",
		LogsEndpoint:         "${env:STITCH_LOGS_OTLP_HTTP_URL:-http://127.0.0.1:9428/insert/opentelemetry/v1/logs}",
		MetricsEndpoint:      "${env:STITCH_METRICS_OTLP_HTTP_URL:-http://127.0.0.1:9090/api/v1/otlp/v1/metrics}",
		StorageDir:           "${env:STITCH_COLLECTOR_STORAGE_DIR:-/var/lib/stitch-collector}",
		SamplingRate:         rate,
		DecisionWait:         10 * time.Second,
		MetricsFlushInterval: 15 * time.Second,
		QueueSize:            CollectorQueueSize,
	}
}

// collectorConfig is the local stack's collector configuration.
func (s *Stack) collectorConfig() CollectorConfig {
	return CollectorConfig{
		OTLPGRPCEndpoint:     fmt.Sprintf("127.0.0.1:%d", s.Ports.CollectorOTLPGRPC),
		OTLPHTTPEndpoint:     fmt.Sprintf("127.0.0.1:%d", s.Ports.CollectorOTLPHTTP),
		HealthEndpoint:       fmt.Sprintf("127.0.0.1:%d", s.Ports.CollectorHealth),
		TracesEndpoint:       fmt.Sprintf("127.0.0.1:%d", s.Ports.JaegerOTLPGRPC),
		LogsEndpoint:         s.VictoriaLogsURL() + "/insert/opentelemetry/v1/logs",
		MetricsEndpoint:      s.PrometheusURL() + "/api/v1/otlp/v1/metrics",
		StorageDir:           filepath.Join(s.Dir, "data", "collector"),
		SamplingRate:         CollectorSamplingRate,
		DecisionWait:         10 * time.Second,
		MetricsFlushInterval: 5 * time.Second,
		QueueSize:            CollectorQueueSize,
	}
}

// ottlString escapes s for a double-quoted OTTL string literal.
func ottlString(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
}

// RenderCollectorConfig fills the reference pipeline template. Everything
// the schema decides (forbidden attributes, pii_scan attributes and
// patterns, the sampling rule's thresholds) comes from the schema.
func RenderCollectorConfig(c CollectorConfig) ([]byte, error) {
	spec := schema.Default()
	below, err := schema.SessionSampledBelow(c.SamplingRate)
	if err != nil {
		return nil, err
	}
	var forbidden []string
	for _, f := range spec.Forbidden {
		forbidden = append(forbidden, regexp.QuoteMeta(f.Name))
	}
	var piiAttrs []string
	for _, a := range spec.Attributes {
		if a.Validation.PIIScan {
			piiAttrs = append(piiAttrs, a.Name)
		}
	}
	var alts []string
	for _, k := range spec.Rules.Privacy.PIIPatterns.Keys {
		p := spec.Rules.Privacy.PIIPatterns.Values[k]
		alts = append(alts, "(?:"+p+")")
	}
	idPattern := spec.Formats.Values["session_id"].Regex
	if idPattern == "" {
		return nil, errors.New("the schema has no session_id format")
	}
	threshold := spec.Rules.Sampling.DefaultLatencyThresholdMs
	sampled := fmt.Sprintf(`IsMatch(span.attributes["session.id"], "%s")`, ottlString(idPattern))
	logDrop := "false"
	if below != "" {
		sampled += fmt.Sprintf(` and span.attributes["session.id"] < "%s"`, below)
		logDrop = fmt.Sprintf(`IsMatch(log.attributes["session.id"], "%s") and log.attributes["session.id"] >= "%s" and log.severity_number < SEVERITY_NUMBER_ERROR and log.attributes["%s"] != "error"`,
			ottlString(idPattern), below, schema.AttrStitchSamplingReason)
	}
	t, err := template.ParseFS(configs, "configs/collector.yaml.tmpl")
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	err = t.Execute(&buf, map[string]any{
		"Version":                       CollectorRelease,
		"Generated":                     c.Generated,
		"SamplingRate":                  strconv.FormatFloat(c.SamplingRate, 'g', -1, 64),
		"LatencyThresholdMs":            threshold,
		"LatencyThresholdNs":            threshold * int64(time.Millisecond),
		"QueueSize":                     c.QueueSize,
		"HealthEndpoint":                c.HealthEndpoint,
		"StorageDir":                    c.StorageDir,
		"OTLPGRPCEndpoint":              c.OTLPGRPCEndpoint,
		"OTLPHTTPEndpoint":              c.OTLPHTTPEndpoint,
		"TracesEndpoint":                c.TracesEndpoint,
		"LogsEndpoint":                  c.LogsEndpoint,
		"MetricsEndpoint":               c.MetricsEndpoint,
		"ForbiddenKeys":                 ottlString("^(" + strings.Join(forbidden, "|") + ")$"),
		"PIIScanList":                   strings.Join(piiAttrs, ", "),
		"PIIScanAttributes":             piiAttrs,
		"PIIPattern":                    ottlString(strings.Join(alts, "|")),
		"DecisionWait":                  c.DecisionWait.String(),
		"MetricsFlushInterval":          c.MetricsFlushInterval.String(),
		"SessionIDPattern":              ottlString(idPattern),
		"SessionSampledCondition":       sampled,
		"SessionSampledOutLogCondition": logDrop,
	})
	return buf.Bytes(), err
}

// collectorSource finds the collector module's folder: below the working
// directory's repository root, else beside this source file.
func collectorSource() (string, error) {
	var tried []string
	if dir, err := os.Getwd(); err == nil {
		for {
			cand := filepath.Join(dir, collectorSourceDir)
			tried = append(tried, cand)
			if _, err := os.Stat(filepath.Join(cand, "go.mod")); err == nil {
				return cand, nil
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		cand := filepath.Join(filepath.Dir(file), "collector")
		if _, err := os.Stat(filepath.Join(cand, "go.mod")); err == nil {
			return cand, nil
		}
		tried = append(tried, cand)
	}
	return "", fmt.Errorf("the collector's source (%s) was not found; run from the Stitch repository (looked in %s)", collectorSourceDir, strings.Join(tried, ", "))
}

// sourceHash identifies the collector's source (its go.mod, go.sum and
// main.go), so that a changed component list is a new cached binary.
func sourceHash(dir string) (string, error) {
	h := sha256.New()
	for _, f := range []string{"go.mod", "go.sum", "main.go"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s %d\n", f, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:12], nil
}
