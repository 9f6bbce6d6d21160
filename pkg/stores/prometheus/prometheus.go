// Package prometheus is the metric store adapter for Prometheus' HTTP API
// (PromQL queries and exemplars).
package prometheus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
	body, err := s.client.Stream(ctx, path, q, "application/json")
	if err != nil {
		return nil, err
	}
	defer body.Close()
	env, err := decode(path, body)
	var na notTheAPI
	if errors.As(err, &na) {
		return nil, body.NotTheAPI(na.cause)
	}
	return env, err
}

// notTheAPI is an answer that is not Prometheus' API's.
type notTheAPI struct{ cause error }

func (e notTheAPI) Error() string { return e.cause.Error() }

// decode reads Prometheus' envelope as it arrives: a successful answer, the
// error Prometheus reports, or an answer that is not Prometheus' (notTheAPI).
func decode(path string, r io.Reader) (*apiResponse, error) {
	var env apiResponse
	if err := storehttp.DecodeJSON(r, &env, nil); err != nil {
		return nil, notTheAPI{err}
	}
	switch env.Status {
	case "success":
		return &env, nil
	case "error":
		return nil, fmt.Errorf("prometheus %s: %s: %s", path, env.ErrorType, env.Error)
	}
	return nil, notTheAPI{fmt.Errorf("no \"status\" field")}
}

// CheckHealth evaluates a constant PromQL expression through the query API.
func (s *Store) CheckHealth(ctx context.Context) (string, error) {
	env, err := s.get(ctx, "/api/v1/query", url.Values{"query": {"vector(1)"}})
	if err != nil {
		return "", err
	}
	if err := s.checkVector("/api/v1/query", env.Data); err != nil {
		return "", err
	}
	return "PromQL ok", nil
}

// checkVector checks that a query's data is an instant vector.
func (s *Store) checkVector(path string, data json.RawMessage) error {
	var d struct {
		ResultType string `json:"resultType"`
	}
	if err := json.Unmarshal(data, &d); err != nil || d.ResultType != "vector" {
		return s.client.NotTheAPI(path, data, fmt.Errorf("want a vector result, got %q", d.ResultType))
	}
	return nil
}
