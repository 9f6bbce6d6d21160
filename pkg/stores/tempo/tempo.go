// Package tempo is the trace store adapter for Grafana Tempo's public HTTP
// API: TraceQL searches, traces by ID as OTLP protobuf, tag values and
// TraceQL metrics. No Tempo code is used (Tempo is AGPL-licensed): the
// requests and answers follow Tempo's API documentation, OTLP is decoded with
// the OpenTelemetry collector's pdata, and Tempo's trace-by-ID wrapper with
// protowire. testdata/README.md lists each documented behaviour relied on.
package tempo

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/stitch-observability/stitch/pkg/stores"
	"github.com/stitch-observability/stitch/pkg/stores/storehttp"
)

// Store reads traces from Tempo.
type Store struct {
	client *storehttp.Client
	now    func() time.Time
	// noV2 is set once this Tempo showed it has no /api/v2/traces route.
	noV2 atomic.Bool
	// limits are the tenant limits this Tempo showed in its refusals.
	limits tenantLimits
}

var _ stores.TraceStore = (*Store)(nil)

// New returns a Tempo adapter over a store client.
func New(client *storehttp.Client) *Store { return &Store{client: client, now: time.Now} }

// CheckHealth calls /api/echo, then runs a one-result TraceQL search over the
// last hour (start/end always set: without them Tempo searches only recent data).
func (s *Store) CheckHealth(ctx context.Context) (string, error) {
	body, err := s.client.Get(ctx, "/api/echo", nil, "")
	if err != nil {
		return "", err
	}
	if strings.TrimSpace(string(body)) != "echo" {
		return "", s.client.NotTheAPI("/api/echo", body, fmt.Errorf("want \"echo\""))
	}
	end := s.now()
	q := url.Values{
		"q":     {"{}"},
		"limit": {"1"},
		"start": {strconv.FormatInt(end.Add(-time.Hour).Unix(), 10)},
		"end":   {strconv.FormatInt(end.Unix(), 10)},
	}
	var res searchResponse
	if err := s.getJSON(ctx, searchPath, q, &res, "traces", "metrics"); err != nil {
		return "", err
	}
	return "echo ok, TraceQL search ok", nil
}
