// Package jaeger is the trace store adapter for Jaeger's query HTTP API.
package jaeger

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
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

// apiResponse is the envelope of Jaeger's /api/* JSON answers; "data" is
// always a list (services, traces).
type apiResponse[T any] struct {
	Data   []T `json:"data"`
	Errors []struct {
		Code int    `json:"code"`
		Msg  string `json:"msg"`
	} `json:"errors"`
}

// decodeResponse reads an envelope as it arrives, each item of "data"
// decoded straight into its type, and says whether "data" was there: a JSON
// body without Jaeger's "data" key is another API answering.
func decodeResponse[T any](r io.Reader) (env apiResponse[T], hasData bool, err error) {
	err = storehttp.DecodeJSON(r, &env, func(key string) {
		hasData = hasData || strings.EqualFold(key, "data") // keys match as in encoding/json
	})
	return env, hasData, err
}

// get reads the "data" list of a Jaeger API answer.
func get[T any](ctx context.Context, s *Store, path string, q url.Values) ([]T, error) {
	body, err := s.client.Stream(ctx, path, q, "application/json")
	if err != nil {
		return nil, err
	}
	defer body.Close()
	env, hasData, err := decodeResponse[T](body)
	if err != nil {
		return nil, body.NotTheAPI(err)
	}
	if !hasData {
		return nil, body.NotTheAPI(fmt.Errorf("no \"data\" field"))
	}
	if len(env.Errors) > 0 {
		return nil, fmt.Errorf("jaeger %s: %s", path, env.Errors[0].Msg)
	}
	return env.Data, nil
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
	if _, err := get[json.RawMessage](ctx, s, "/api/traces", q); err != nil {
		return "", err
	}
	return fmt.Sprintf("%d services, trace search ok", len(services)), nil
}
