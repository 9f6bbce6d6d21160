package loki

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stitch-observability/stitch/pkg/settings"
	"github.com/stitch-observability/stitch/pkg/stores"
	"github.com/stitch-observability/stitch/pkg/stores/contracttest"
	"github.com/stitch-observability/stitch/pkg/stores/storehttp"
)

// The adapter against testdata/contracts: each test names the documented
// request → response pairs it may use; any other request fails it.

var (
	contractT0      = time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	contractStart   = contractT0.Add(-30 * time.Minute)
	contractEnd     = contractT0.Add(30 * time.Minute)
	contractSession = "5e55104d0c0ffee0000000000000a11c"
	contractTrace   = "4bf92f3577b34da6a3ce929d0e0e4736"
)

func newStore(t *testing.T, url string) *Store {
	t.Helper()
	raw, _ := json.Marshal(map[string]any{"logs": map[string]any{"kind": "loki", "url": url, "tenant": "tenant-1"}})
	s, err := settings.Load(backend.DataSourceInstanceSettings{JSONData: raw})
	require.NoError(t, err)
	c, err := storehttp.New(s.Logs)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return New(c)
}

func sessionLogs(limit int) stores.LogSearch {
	return stores.LogSearch{SessionID: contractSession, Start: contractStart, End: contractEnd, Limit: limit}
}

func TestSearchLogsSessionContract(t *testing.T) {
	d := contracttest.NewDouble(t, "loki", "query_range_session.json")
	res, err := newStore(t, d.URL).SearchLogs(context.Background(), sessionLogs(100))
	require.NoError(t, err)
	assert.False(t, res.Truncated)
	require.Len(t, res.Records, 4)
	first := res.Records[0]
	assert.Equal(t, "stitch-ios", first.Service)
	assert.Equal(t, "INFO", first.Severity)
	assert.Equal(t, contractSession, first.Attributes.Value("session.id"), "structured metadata under the schema's name")
	assert.Equal(t, "iPhone15,2", first.Attributes.Value("device.model.identifier"), "so the engine tells device logs apart")
	assert.Equal(t, "error", res.Records[2].Severity, "detected_level stands in for a missing severity_text")
	assert.Equal(t, contractTrace, res.Records[2].TraceID)
	contracttest.CheckGolden(t, "session_logs.json", res)
}

// A Loki that ignores the categorised-labels header (or a proxy that drops
// it) merges structured metadata into each line's stream labels: the records
// are the same.
func TestSearchLogsUncategorizedAnswerConvertsTheSame(t *testing.T) {
	d := contracttest.NewDouble(t, "loki", "query_range_session_uncategorized.json")
	res, err := newStore(t, d.URL).SearchLogs(context.Background(), sessionLogs(100))
	require.NoError(t, err)
	contracttest.CheckGolden(t, "session_logs.json", res)
}

func TestSearchLogsByTraceIDsTruncatesAtTheLimit(t *testing.T) {
	d := contracttest.NewDouble(t, "loki", "query_range_traces.json")
	res, err := newStore(t, d.URL).SearchLogs(context.Background(), stores.LogSearch{
		TraceIDs: []string{contractTrace, "0AF7651916CD43DD8448EB211C80319C"},
		Start:    contractStart, End: contractEnd, Limit: 2,
	})
	require.NoError(t, err)
	assert.True(t, res.Truncated, "one more line than the limit came back")
	require.Len(t, res.Records, 2)
	assert.Equal(t, "order rejected", res.Records[0].Body, "the oldest lines are kept")
	assert.Equal(t, []string{"query was split and some results may be approximate"}, res.Warnings, "Loki's warnings are passed on")
	contracttest.CheckGolden(t, "trace_logs.json", res)
}

func TestSearchLogsErrorCarriesLokiMessage(t *testing.T) {
	d := contracttest.NewDouble(t, "loki", "query_range_parse_error.json")
	_, err := newStore(t, d.URL).SearchLogs(context.Background(), sessionLogs(100))
	require.Error(t, err)
	var se *storehttp.Error
	require.ErrorAs(t, err, &se)
	assert.Equal(t, http.StatusBadRequest, se.StatusCode)
	assert.Equal(t, backend.ErrorSourceDownstream, se.ErrorSource())
	assert.Contains(t, err.Error(), "logs store (loki at")
	assert.Contains(t, err.Error(), "parse error at line 1")
}

func TestSearchLogsRefusesBadInput(t *testing.T) {
	d := contracttest.NewDouble(t, "loki")
	st := newStore(t, d.URL)
	for _, q := range []stores.LogSearch{
		{SessionID: contractSession},
		{Limit: 10},
		{TraceIDs: []string{"not-hex", "4bf92f35"}, Limit: 10},
	} {
		_, err := st.SearchLogs(context.Background(), q)
		assert.Error(t, err, "%+v", q)
	}
}

// traceBatchDouble is a test double of query_range for trace-ID batches: it
// answers the documented streams shape for queries of exactly the shape the
// adapter must send (at most traceIDsPerQuery validated IDs in one regex
// filter, limit within max_entries_limit_per_query), 400 for any other.
type traceBatchDouble struct {
	mu      sync.Mutex
	queries []string
	limits  []int
	lines   int // lines per query answer; 0: one per trace ID
}

var batchQuery = regexp.MustCompile(`^\{service_name=~"\.\+"\} \| trace_id=~"((?:[0-9a-f]{32}\|)*[0-9a-f]{32})"$`)

func (d *traceBatchDouble) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	m := batchQuery.FindStringSubmatch(q.Get("query"))
	limit, err := strconv.Atoi(q.Get("limit"))
	if r.URL.Path != queryRangePath || m == nil || err != nil || limit < 1 || limit > maxEntriesPerQuery ||
		q.Get("direction") != "forward" || q.Get("start") == "" || q.Get("end") == "" ||
		r.Header.Get(headerEncodingFlags) != flagCategorize {
		http.Error(w, "parse error: not a documented request shape", http.StatusBadRequest)
		return
	}
	ids := strings.Split(m[1], "|")
	if len(ids) > traceIDsPerQuery {
		http.Error(w, "query too long", http.StatusBadRequest)
		return
	}
	d.mu.Lock()
	d.queries = append(d.queries, q.Get("query"))
	d.limits = append(d.limits, limit)
	d.mu.Unlock()
	n := d.lines
	if n == 0 {
		n = len(ids)
	}
	n = min(n, limit)
	var values [][]any
	for i := 0; i < n; i++ {
		values = append(values, []any{
			strconv.FormatInt(contractT0.Add(time.Duration(i)*time.Millisecond).UnixNano(), 10),
			fmt.Sprintf("line %d", i),
			map[string]any{"structuredMetadata": map[string]string{"trace_id": ids[i%len(ids)]}, "parsed": map[string]string{}},
		})
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"status": "success", "data": map[string]any{
		"resultType": "streams", "encodingFlags": []string{flagCategorize},
		"result": []any{map[string]any{"stream": map[string]string{"service_name": "checkout-api"}, "values": values}},
	}})
}

func traceIDs(n int) []string {
	var ids []string
	for i := 0; i < n; i++ {
		ids = append(ids, fmt.Sprintf("%032x", i+1))
	}
	return ids
}

func TestSearchLogsBatchesManyTraceIDs(t *testing.T) {
	d := &traceBatchDouble{}
	srv := httptest.NewServer(d)
	defer srv.Close()
	res, err := newStore(t, srv.URL).SearchLogs(context.Background(), stores.LogSearch{
		TraceIDs: traceIDs(250), Start: contractStart, End: contractEnd, Limit: 5000,
	})
	require.NoError(t, err)
	require.Len(t, d.queries, 3, "250 IDs in bounded queries of 100")
	assert.Len(t, res.Records, 250)
	assert.False(t, res.Truncated)
	assert.Equal(t, []int{5000, 4901, 4801}, d.limits, "each query asks for what remains (+1, within Loki's maximum)")
}

func TestSearchLogsCapsTheLimitAtLokisMaximum(t *testing.T) {
	d := &traceBatchDouble{lines: maxEntriesPerQuery}
	srv := httptest.NewServer(d)
	defer srv.Close()
	res, err := newStore(t, srv.URL).SearchLogs(context.Background(), stores.LogSearch{
		TraceIDs: traceIDs(3), Start: contractStart, End: contractEnd, Limit: 20000,
	})
	require.NoError(t, err)
	assert.Equal(t, []int{maxEntriesPerQuery}, d.limits, "never above max_entries_limit_per_query")
	assert.Len(t, res.Records, maxEntriesPerQuery)
	assert.True(t, res.Truncated)
	require.Len(t, res.Warnings, 1)
	assert.Contains(t, res.Warnings[0], "max_entries_limit_per_query")
}

func TestSearchLogsLaterBatchesCutByTheLimit(t *testing.T) {
	d := &traceBatchDouble{}
	srv := httptest.NewServer(d)
	defer srv.Close()
	res, err := newStore(t, srv.URL).SearchLogs(context.Background(), stores.LogSearch{
		TraceIDs: traceIDs(150), Start: contractStart, End: contractEnd, Limit: 100,
	})
	require.NoError(t, err)
	assert.Len(t, d.queries, 1, "the first batch filled the limit")
	assert.Len(t, res.Records, 100)
	assert.True(t, res.Truncated, "the second batch was not searched")
}
