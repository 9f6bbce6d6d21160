package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stitch-observability/stitch/pkg/query"
	"github.com/stitch-observability/stitch/pkg/settings"
)

// storeSecret is the bearer token every faulty store is configured with;
// the stores echo it back in their error bodies, and it must never reach
// a response.
const storeSecret = "canary-bearer-7f3a9c"

// storeFault is one way a store fails. serve answers every path of the
// store's API; a nil serve is a closed port.
type storeFault struct {
	name  string
	serve func(arrived func()) http.HandlerFunc
	// cancels: the test cancels the query once the store got a request.
	cancels bool
}

// echoingStatus answers every request with code and a body that echoes the
// request's credentials, as careless proxies do.
func echoingStatus(code int) func(func()) http.HandlerFunc {
	return func(func()) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(code)
			fmt.Fprintf(w, "%d from the store; you sent Authorization: %s", code, r.Header.Get("Authorization"))
		}
	}
}

// hang holds every request until the client gives up.
func hang(arrived func()) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		arrived()
		select {
		case <-r.Context().Done():
		case <-time.After(30 * time.Second):
		}
	}
}

var storeFaults = []storeFault{
	{name: "connection refused"},
	{name: "timeout", serve: hang},
	{name: "401", serve: echoingStatus(http.StatusUnauthorized)},
	{name: "403", serve: echoingStatus(http.StatusForbidden)},
	{name: "404", serve: echoingStatus(http.StatusNotFound)},
	{name: "429", serve: echoingStatus(http.StatusTooManyRequests)},
	{name: "500", serve: echoingStatus(http.StatusInternalServerError)},
	{name: "garbage body", serve: func(func()) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "\x00\x01\x02 not an API answer; Authorization: %s", r.Header.Get("Authorization"))
		}
	}},
	{name: "context cancelled", serve: hang, cancels: true},
}

// storeKind is one store implementation under test and the query types
// that call it.
type storeKind struct {
	kind       settings.Kind
	role       settings.Role
	queryTypes []string
}

// traceQueryTypes are the query types that read traces: all but the latency
// breakdown, which reads the metric store's histograms.
var traceQueryTypes = func() []string {
	var out []string
	for _, qt := range query.Types {
		if qt != query.TypeLatencyBreakdown {
			out = append(out, qt)
		}
	}
	return out
}()

var storeKinds = []storeKind{
	{settings.KindJaeger, settings.RoleTraces, traceQueryTypes},
	{settings.KindTempo, settings.RoleTraces, traceQueryTypes},
	// Only these query types read logs; VictoriaLogs also counts per-service
	// log coverage for propagationHealth, Loki cannot. The log store is
	// the sessions list's index.
	{settings.KindVictoriaLogs, settings.RoleLogs, []string{query.TypeSessions, query.TypeSessionTimeline, query.TypeErrorCascades, query.TypePropagationHealth}},
	{settings.KindLoki, settings.RoleLogs, []string{query.TypeSessions, query.TypeSessionTimeline, query.TypeErrorCascades}},
	// Prometheus' exemplars lead to the sessions behind a spike; its
	// request-duration histograms give the latency breakdown.
	{settings.KindPrometheus, settings.RoleMetrics, []string{query.TypeExemplarSessions, query.TypeLatencyBreakdown}},
}

// faultQueries is one query of each type, over the in-memory golden data
// (the healthy store of the other role answers from it).
var faultQueries = map[string]string{
	query.TypeSessions:          `{"queryType":"sessions"}`,
	query.TypeSessionTimeline:   `{"queryType":"sessionTimeline","sessionId":"` + goldenSession + `"}`,
	query.TypeTraceToSession:    `{"queryType":"traceToSession","traceId":"` + gid(1, 32) + `"}`,
	query.TypeLatencyBreakdown:  `{"queryType":"latencyBreakdown"}`,
	query.TypeErrorCascades:     `{"queryType":"errorCascades"}`,
	query.TypePropagationHealth: `{"queryType":"propagationHealth"}`,
	query.TypeSessionMetrics:    `{"queryType":"sessionMetrics","metric":"sessions"}`,
	query.TypeExemplarSessions:  `{"queryType":"exemplarSessions","endpoint":"/orders"}`,
}

// outcome is what one query type answers when one store fails.
type outcome int

const (
	// failsWith: the query's error, with the fault's status, downstream.
	failsWith outcome = iota
	// degrades: frames without the failed store, and a warning notice
	// naming it.
	degrades
	// notFound: the store's 404 for a trace by ID means "no such trace".
	notFound
)

func expected(k storeKind, f storeFault, queryType string) (outcome, backend.Status) {
	if f.cancels {
		return failsWith, statusClientClosedRequest
	}
	switch {
	case k.role == settings.RoleLogs && queryType == query.TypeSessions && f.name == "timeout":
		return failsWith, backend.StatusTimeout
	case k.role == settings.RoleLogs && queryType == query.TypeSessions:
		// The log store counts the sessions: without it there is no list.
		return failsWith, backend.StatusBadGateway
	case k.role == settings.RoleLogs:
		// Logs only enrich: a query shows what the trace store has.
		return degrades, 0
	case queryType == query.TypeSessions:
		// The trace store only adds the shown sessions' requests.
		return degrades, 0
	case queryType == query.TypeSessionTimeline:
		// A timeline shows the session's logs when its traces are missing.
		return degrades, 0
	case queryType == query.TypeTraceToSession && f.name == "404":
		return notFound, 0
	case queryType == query.TypeExemplarSessions && k.role == settings.RoleTraces:
		// The exemplars are there; their traces are not: an empty list
		// that says why.
		if f.name == "404" {
			return notFound, 0
		}
		return degrades, 0
	case f.name == "timeout":
		return failsWith, backend.StatusTimeout
	}
	return failsWith, backend.StatusBadGateway
}

// faultyStore starts a store that fails as f does, on a random port, and
// returns its URL and host.
func faultyStore(t *testing.T, f storeFault, arrived func()) (string, string) {
	t.Helper()
	if f.serve == nil {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := l.Addr().String()
		require.NoError(t, l.Close())
		return "http://" + addr, addr
	}
	srv := httptest.NewServer(f.serve(arrived))
	t.Cleanup(srv.Close)
	return srv.URL, srv.Listener.Addr().String()
}

// faultyDatasource is a data source whose store of k's role is the faulty
// one, with bearer auth and a short timeout, built as Grafana builds it; the
// other roles answer from the golden data in memory.
func faultyDatasource(t *testing.T, k storeKind, url string) *Datasource {
	t.Helper()
	store := map[string]any{"kind": k.kind, "url": url, "auth": "bearer", "timeoutSeconds": 1}
	raw, err := json.Marshal(map[string]any{string(k.role): store})
	require.NoError(t, err)
	inst, err := NewDatasource(context.Background(), backend.DataSourceInstanceSettings{UID: "stitch", JSONData: raw,
		DecryptedSecureJSONData: map[string]string{settings.SecureKey(k.role, settings.SecureBearerToken): storeSecret}})
	require.NoError(t, err)
	ds := inst.(*Datasource)
	require.NoError(t, ds.settingsErr)
	t.Cleanup(ds.Dispose)
	if k.role != settings.RoleTraces {
		ds.traces = memoryTraceStore{goldenTraces()}
	}
	if k.role != settings.RoleLogs {
		ds.logs = memoryLogStore{goldenLogs()}
	}
	if k.role != settings.RoleMetrics {
		ds.metrics = memoryMetricStore{goldenExemplars()}
	}
	return ds
}

// Every store kind × every fault × every query type the store serves: the
// response's status, error source and message (naming the store's host,
// never its secret), or — where a query degrades without the store — the
// warning notice that says so. Also each store's line in CheckHealth.
func TestStoreFaultsReachGrafanaWithTheirSource(t *testing.T) {
	cases := 0
	for _, k := range storeKinds {
		for _, f := range storeFaults {
			cases += len(k.queryTypes) + 1
			t.Run(string(k.kind)+"/"+f.name, func(t *testing.T) {
				t.Parallel()
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				var once sync.Once
				arrived := func() {
					if f.cancels {
						once.Do(cancel)
					}
				}
				url, host := faultyStore(t, f, arrived)
				ds := faultyDatasource(t, k, url)

				var queries []backend.DataQuery
				for _, qt := range k.queryTypes {
					queries = append(queries, backend.DataQuery{RefID: qt, JSON: json.RawMessage(faultQueries[qt]),
						TimeRange: backend.TimeRange{From: t0.Add(-time.Minute), To: t0.Add(time.Minute)},
						Interval:  30 * time.Second, MaxDataPoints: 100})
				}
				if len(queries) > 0 {
					resp, err := ds.QueryData(ctx, &backend.QueryDataRequest{Queries: queries})
					require.NoError(t, err, "a failing store fails queries, never the request")
					require.Len(t, resp.Responses, len(queries))
					for _, qt := range k.queryTypes {
						t.Run(qt, func(t *testing.T) {
							checkFaultResponse(t, k, f, qt, host, resp.Responses[qt])
						})
					}
				}

				t.Run("checkHealth", func(t *testing.T) {
					hctx := context.Background()
					if f.cancels {
						hctx = ctx // already cancelled by the queries, or cancelled on arrival
					}
					res, err := ds.CheckHealth(hctx, &backend.CheckHealthRequest{})
					require.NoError(t, err)
					assert.Equal(t, backend.HealthStatusError, res.Status)
					assert.Contains(t, res.Message, string(k.role)+" ("+string(k.kind)+", "+host+"): error")
					assert.NotContains(t, res.Message+string(res.JSONDetails), storeSecret)
				})
			})
		}
	}
	t.Logf("%d cases", cases)
}

func checkFaultResponse(t *testing.T, k storeKind, f storeFault, qt, host string, dr backend.DataResponse) {
	t.Helper()
	want, status := expected(k, f, qt)
	everything := fmt.Sprint(dr.Error)
	for _, fr := range dr.Frames {
		if fr.Meta != nil {
			for _, n := range fr.Meta.Notices {
				everything += "\n" + n.Text
			}
		}
	}
	assert.NotContains(t, everything, storeSecret, "the store's secret never reaches a response")

	switch want {
	case failsWith:
		require.Error(t, dr.Error)
		assert.Equal(t, status, dr.Status, dr.Error.Error())
		assert.Equal(t, backend.ErrorSourceDownstream, dr.ErrorSource, dr.Error.Error())
		if !f.cancels {
			assert.Contains(t, dr.Error.Error(), host, "the message names the store")
			assert.Contains(t, dr.Error.Error(), string(k.role)+" store ("+string(k.kind)+" at "+host+")")
		}
		if f.name == "garbage body" {
			assert.Contains(t, dr.Error.Error(), "is the URL the "+string(k.kind)+" API's base URL?")
		}
	case degrades:
		require.NoError(t, dr.Error, "the query answers without the failed store")
		require.NotEmpty(t, dr.Frames)
		n := firstNotice(dr.Frames, data.NoticeSeverityWarning, host)
		require.NotNil(t, n, "a warning notice names the failed store; notices: %s", everything)
		if f.name == "garbage body" {
			assert.Contains(t, n.Text, "is the URL the "+string(k.kind)+" API's base URL?")
		}
	case notFound:
		require.NoError(t, dr.Error)
		require.NotEmpty(t, dr.Frames)
		require.NotNil(t, firstNotice(dr.Frames, data.NoticeSeverityInfo, "not found"), everything)
	}
}

// firstNotice is the first frame's notice of the severity that contains text.
func firstNotice(fs data.Frames, sev data.NoticeSeverity, text string) *data.Notice {
	if len(fs) == 0 || fs[0].Meta == nil {
		return nil
	}
	for i, n := range fs[0].Meta.Notices {
		if n.Severity == sev && strings.Contains(n.Text, text) {
			return &fs[0].Meta.Notices[i]
		}
	}
	return nil
}
