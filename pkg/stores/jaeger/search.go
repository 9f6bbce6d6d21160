package jaeger

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/stitch-observability/stitch/pkg/correlation"
	"github.com/stitch-observability/stitch/pkg/safego"
	"github.com/stitch-observability/stitch/pkg/schema"
	"github.com/stitch-observability/stitch/pkg/stores"
	"github.com/stitch-observability/stitch/pkg/stores/storehttp"
	"github.com/stitch-observability/stitch/pkg/telemetry"
)

// searchConcurrency bounds the per-service searches in flight.
const searchConcurrency = 4

// servicesTTL is how long the service list is reused between searches: short,
// so a service that just started sending shows up quickly.
const servicesTTL = 5 * time.Second

type servicesCache struct {
	mu       sync.Mutex
	services []string
	fetched  time.Time
	// app tells, per service seen with spans, whether it is one of the
	// app's (its spans carry the device resource attributes). A service
	// does not change sides, so this is kept for the store's life; it
	// holds at most one entry per service the store lists.
	app map[string]bool
}

func (s *Store) services(ctx context.Context) ([]string, error) {
	s.cache.mu.Lock()
	defer s.cache.mu.Unlock()
	if s.cache.services != nil && s.now().Sub(s.cache.fetched) < servicesTTL {
		return s.cache.services, nil
	}
	services, err := get[string](ctx, s, "/api/services", nil)
	if err != nil {
		return nil, err
	}
	sort.Strings(services)
	s.cache.services, s.cache.fetched = services, s.now()
	return services, nil
}

// learnServices records which services of the traces are the app's: a
// service is the app's when its spans are device spans (one rule,
// correlation.IsDeviceSpan).
func (s *Store) learnServices(traces []telemetry.Trace) {
	s.cache.mu.Lock()
	defer s.cache.mu.Unlock()
	if s.cache.app == nil {
		s.cache.app = map[string]bool{}
	}
	for i := range traces {
		for j := range traces[i].Spans {
			sp := &traces[i].Spans[j]
			if _, known := s.cache.app[sp.Service]; !known {
				s.cache.app[sp.Service] = correlation.IsDeviceSpan(sp)
			}
		}
	}
}

// appServices are the services among all that are the app's. A service not
// seen yet is probed once with a one-trace search in [start, end] (Jaeger
// returns the whole trace, so its own spans tell its side); one with no
// trace in the window cannot match a search of that window and is left
// out; one whose probe fails is kept, so the search itself reports it. The
// answer is remembered, so a store with hundreds of services costs a probe
// per service once, not a search per service per query.
func (s *Store) appServices(ctx context.Context, all []string, start, end time.Time) []string {
	s.cache.mu.Lock()
	var unknown []string
	for _, svc := range all {
		if _, known := s.cache.app[svc]; !known {
			unknown = append(unknown, svc)
		}
	}
	s.cache.mu.Unlock()

	var (
		mu     sync.Mutex
		failed = map[string]bool{}
		g      errgroup.Group
	)
	g.SetLimit(searchConcurrency)
	for _, svc := range unknown {
		safego.Go(&g, func() error {
			found, err := get[jsonTrace](ctx, s, "/api/traces", url.Values{"service": {svc}, "limit": {"1"},
				"start": {microsParam(start)}, "end": {microsParam(end)}})
			var traces []telemetry.Trace
			if err == nil {
				traces, err = toTraces(found)
			}
			if err != nil {
				mu.Lock()
				failed[svc] = true
				mu.Unlock()
				return nil
			}
			s.learnServices(traces)
			return nil
		})
	}
	if g.Wait() != nil {
		// A probe panicked: keep every unprobed service rather than guess.
		for _, svc := range unknown {
			failed[svc] = true
		}
	}

	s.cache.mu.Lock()
	defer s.cache.mu.Unlock()
	var out []string
	for _, svc := range all {
		if s.cache.app[svc] || failed[svc] {
			out = append(out, svc)
		}
	}
	return out
}

// SearchTraces finds traces with a span carrying every attribute. Jaeger's
// search needs a service, and which services carry the attributes is not
// known in advance, so the search fans out over every service (bounded),
// or over the app's services only when the caller needs only the app's
// traces (q.AppOnly), and merges the results by trace ID. Jaeger returns
// whole traces.
func (s *Store) SearchTraces(ctx context.Context, q stores.TraceSearch) (stores.TraceSearchResult, error) {
	res := stores.TraceSearchResult{Complete: true}
	// A service.name filter is Jaeger's service parameter: one search of
	// that service, not one of every service with a tag.
	service, attrs := "", make([]telemetry.KV, 0, len(q.Attributes))
	for _, kv := range q.Attributes {
		if kv.Key == schema.AttrServiceName {
			if service != "" && service != kv.Value {
				return res, fmt.Errorf("attribute %q filtered on two values", kv.Key)
			}
			service = kv.Value
			continue
		}
		attrs = append(attrs, kv)
	}
	tags, err := tagsParam(attrs)
	if err != nil {
		return res, err
	}
	services, err := s.services(ctx)
	if err != nil {
		return res, err
	}
	switch {
	case service != "":
		if !slices.Contains(services, service) {
			return res, nil // no span of that service in the store
		}
		services = []string{service}
	case q.AppOnly:
		services = s.appServices(ctx, services, q.Start, q.End)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 20
	}
	params := url.Values{
		"tags":  {tags},
		"start": {microsParam(q.Start)},
		"end":   {microsParam(q.End)},
		"limit": {strconv.Itoa(limit)},
	}

	var (
		mu       sync.Mutex
		byID     = map[string]*telemetry.Trace{}
		order    []string
		failures []error
	)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(searchConcurrency)
	for _, svc := range services {
		safego.Go(g, func() error {
			p := url.Values{"service": {svc}}
			for k, v := range params {
				p[k] = v
			}
			found, err := get[jsonTrace](gctx, s, "/api/traces", p)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if gctx.Err() != nil {
					return gctx.Err()
				}
				failures = append(failures, fmt.Errorf("service %q: %w", svc, err))
				return nil
			}
			if len(found) >= limit {
				res.Truncated = true
			}
			traces, err := toTraces(found)
			if err != nil {
				failures = append(failures, fmt.Errorf("service %q: %w", svc, err))
				return nil
			}
			s.learnServices(traces)
			for _, t := range traces {
				if prev, ok := byID[t.TraceID]; ok {
					mergeSpans(prev, t)
					continue
				}
				t := t
				byID[t.TraceID] = &t
				order = append(order, t.TraceID)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return res, err
	}
	if len(failures) == len(services) && len(services) > 0 {
		return res, errors.Join(failures...)
	}
	for _, f := range failures {
		res.Warnings = append(res.Warnings, f.Error())
	}
	sort.Strings(order)
	for _, id := range order {
		res.Traces = append(res.Traces, *byID[id])
	}
	if len(res.Traces) > limit {
		res.Traces, res.Truncated = res.Traces[:limit], true
	}
	return res, nil
}

// mergeSpans adds the spans of b that a lacks (the same trace found through
// two services' searches).
func mergeSpans(a *telemetry.Trace, b telemetry.Trace) {
	seen := make(map[string]bool, len(a.Spans))
	for _, sp := range a.Spans {
		seen[sp.SpanID] = true
	}
	for _, sp := range b.Spans {
		if !seen[sp.SpanID] {
			a.Spans = append(a.Spans, sp)
		}
	}
}

// Trace fetches one trace by ID.
func (s *Store) Trace(ctx context.Context, traceID string, start, end time.Time) (*telemetry.Trace, error) {
	q := url.Values{}
	if !start.IsZero() && !end.IsZero() {
		q.Set("start", microsParam(start))
		q.Set("end", microsParam(end))
	}
	found, err := get[jsonTrace](ctx, s, "/api/traces/"+url.PathEscape(traceID), q)
	var se *storehttp.Error
	if errors.As(err, &se) && se.StatusCode == 404 {
		return nil, stores.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	traces, err := toTraces(found)
	if err != nil {
		return nil, err
	}
	if len(traces) == 0 {
		return nil, stores.ErrNotFound
	}
	return &traces[0], nil
}
