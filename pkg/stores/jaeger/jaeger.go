// Package jaeger is the trace store adapter for Jaeger's query HTTP API.
package jaeger

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/stitch-observability/stitch/pkg/stores"
	"github.com/stitch-observability/stitch/pkg/stores/storehttp"
)

// Store reads traces from Jaeger.
type Store struct {
	client *storehttp.Client
	now    func() time.Time
	cache  servicesCache
}

var _ stores.TraceStore = (*Store)(nil)

// New returns a Jaeger adapter over a store client.
func New(client *storehttp.Client) *Store { return &Store{client: client, now: time.Now} }

// apiResponse is the envelope of Jaeger's /api/* JSON answers.
type apiResponse struct {
	Data   json.RawMessage `json:"data"`
	Errors []struct {
		Code int    `json:"code"`
		Msg  string `json:"msg"`
	} `json:"errors"`
}

func (s *Store) get(ctx context.Context, path string, q url.Values, out any) error {
	var env apiResponse
	body, err := s.client.Get(ctx, path, q, "application/json")
	if err != nil {
		return err
	}
	// A JSON body without Jaeger's "data" key is another API answering.
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(body, &keys); err != nil {
		return s.client.NotTheAPI(path, body, err)
	}
	if _, ok := keys["data"]; !ok {
		return s.client.NotTheAPI(path, body, fmt.Errorf("no \"data\" field"))
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return s.client.NotTheAPI(path, body, err)
	}
	if len(env.Errors) > 0 {
		return fmt.Errorf("jaeger %s: %s", path, env.Errors[0].Msg)
	}
	if out != nil && len(env.Data) > 0 && string(env.Data) != "null" {
		if err := json.Unmarshal(env.Data, out); err != nil {
			return s.client.NotTheAPI(path, body, err)
		}
	}
	return nil
}

// CheckHealth lists services, then runs a one-trace search for the first one:
// the same search path session queries use.
func (s *Store) CheckHealth(ctx context.Context) (string, error) {
	services, err := s.services(ctx)
	if err != nil {
		return "", err
	}
	if len(services) == 0 {
		return "reachable, no services recorded yet", nil
	}
	end := s.now()
	q := url.Values{
		"service": {services[0]},
		"limit":   {"1"},
		"start":   {strconv.FormatInt(end.Add(-time.Hour).UnixMicro(), 10)},
		"end":     {strconv.FormatInt(end.UnixMicro(), 10)},
	}
	var traces []json.RawMessage
	if err := s.get(ctx, "/api/traces", q, &traces); err != nil {
		return "", err
	}
	return fmt.Sprintf("%d services, trace search ok", len(services)), nil
}
