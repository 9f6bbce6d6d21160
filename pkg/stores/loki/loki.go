// Package loki is the log store adapter for Grafana Loki's public HTTP API:
// LogQL range queries over what OTLP ingestion stored, structured metadata
// read back under the schema's attribute names, and the session index
// (sessions.go) as LogQL metric queries counting device records by session. No Loki code is used (Loki is
// AGPL-licensed): requests and answers follow Loki's API documentation;
// testdata/README.md lists each documented behaviour relied on.
package loki

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/stitch-observability/stitch/pkg/stores"
	"github.com/stitch-observability/stitch/pkg/stores/storehttp"
)

// Store reads log records from Loki.
type Store struct {
	client *storehttp.Client
	now    func() time.Time
	// limits are the tenant limits this Loki showed in its refusals.
	limits tenantLimits
}

var _ stores.LogStore = (*Store)(nil)

// New returns a Loki adapter over a store client.
func New(client *storehttp.Client) *Store { return &Store{client: client, now: time.Now} }

// CheckHealth runs a one-line LogQL query over the last five minutes.
func (s *Store) CheckHealth(ctx context.Context) (string, error) {
	end := s.now()
	q := url.Values{
		"query":     {AllStreams},
		"limit":     {"1"},
		"start":     {strconv.FormatInt(end.Add(-5*time.Minute).UnixNano(), 10)},
		"end":       {strconv.FormatInt(end.UnixNano(), 10)},
		"direction": {"backward"},
	}
	var res struct {
		Status string `json:"status"`
		Data   struct {
			ResultType string `json:"resultType"`
		} `json:"data"`
	}
	const path = "/loki/api/v1/query_range"
	if err := s.client.GetJSON(ctx, path, q, &res); err != nil {
		return "", err
	}
	if res.Status != "success" || res.Data.ResultType != "streams" {
		return "", s.client.NotTheAPI(path, nil, fmt.Errorf("want status success with streams, got %q/%q", res.Status, res.Data.ResultType))
	}
	return "LogQL ok", nil
}
