// Package prometheus is the metric store adapter for Prometheus' HTTP API
// (PromQL queries and exemplars).
package prometheus

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"

	"github.com/stitch-observability/stitch/pkg/stores"
	"github.com/stitch-observability/stitch/pkg/stores/storehttp"
)

// Store reads series and exemplars from Prometheus.
type Store struct {
	client *storehttp.Client
}

var _ stores.MetricStore = (*Store)(nil)

// New returns a Prometheus adapter over a store client.
func New(client *storehttp.Client) *Store { return &Store{client: client} }

// apiResponse is Prometheus' HTTP API envelope.
type apiResponse struct {
	Status    string          `json:"status"`
	Data      json.RawMessage `json:"data"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
	Warnings  []string        `json:"warnings"`
}

func (s *Store) get(ctx context.Context, path string, q url.Values) (*apiResponse, error) {
	var env apiResponse
	if err := s.client.GetJSON(ctx, path, q, &env); err != nil {
		return nil, err
	}
	switch env.Status {
	case "success":
		return &env, nil
	case "error":
		return nil, fmt.Errorf("prometheus %s: %s: %s", path, env.ErrorType, env.Error)
	}
	return nil, s.client.NotTheAPI(path, nil, fmt.Errorf("no \"status\" field"))
}

// CheckHealth evaluates a constant PromQL expression through the query API.
func (s *Store) CheckHealth(ctx context.Context) (string, error) {
	env, err := s.get(ctx, "/api/v1/query", url.Values{"query": {"vector(1)"}})
	if err != nil {
		return "", err
	}
	var data struct {
		ResultType string `json:"resultType"`
	}
	if err := json.Unmarshal(env.Data, &data); err != nil || data.ResultType != "vector" {
		return "", s.client.NotTheAPI("/api/v1/query", env.Data, fmt.Errorf("want a vector result, got %q", data.ResultType))
	}
	return "PromQL ok", nil
}
