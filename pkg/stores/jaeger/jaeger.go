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
	Data   dataField `json:"data"`
	Errors []struct {
		Code int    `json:"code"`
		Msg  string `json:"msg"`
	} `json:"errors"`
}

// dataField decodes the envelope's "data" into out (nil: skipped) and
// records that the key was there; null leaves out as it is.
type dataField struct {
	out     any
	present bool
}

func (d *dataField) UnmarshalJSON(b []byte) error {
	d.present = true
	if d.out == nil || string(b) == "null" {
		return nil
	}
	return json.Unmarshal(b, d.out)
}

func (s *Store) get(ctx context.Context, path string, q url.Values, out any) error {
	body, err := s.client.Get(ctx, path, q, "application/json")
	if err != nil {
		return err
	}
	// One pass over the body: "data" is decoded straight into out. A JSON
	// body without Jaeger's "data" key is another API answering.
	env := apiResponse{Data: dataField{out: out}}
	if err := json.Unmarshal(body, &env); err != nil {
		return s.client.NotTheAPI(path, body, err)
	}
	if !env.Data.present {
		return s.client.NotTheAPI(path, body, fmt.Errorf("no \"data\" field"))
	}
	if len(env.Errors) > 0 {
		return fmt.Errorf("jaeger %s: %s", path, env.Errors[0].Msg)
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
