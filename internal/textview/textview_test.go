package textview

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func traceFrame() *data.Frame {
	raw := json.RawMessage("[]")
	f := data.NewFrame("waterfall",
		data.NewField("spanID", nil, []string{"root", "child", "grandchild", "late"}),
		data.NewField("parentSpanID", nil, []string{"", "root", "child", "root"}),
		data.NewField("operationName", nil, []string{"session", "POST /orders", "reserve", "GET /profile"}),
		data.NewField("serviceName", nil, []string{"app", "app", "stock", "app"}),
		data.NewField("statusCode", nil, []int64{0, 2, 2, 0}),
		data.NewField("startTime", nil, []float64{0, 100, 150, 900}),
		data.NewField("duration", nil, []float64{1000, 500, 300, 100}),
		data.NewField("tags", nil, []json.RawMessage{raw, raw, raw, raw}),
	)
	return f
}

func TestWaterfallTree(t *testing.T) {
	out := Waterfall(traceFrame(), 20, 10)
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	require.Len(t, lines, 4)
	assert.True(t, strings.HasPrefix(lines[0], "  app: session"))
	assert.True(t, strings.HasPrefix(lines[1], "  ✗ app: POST /orders"), lines[1])
	assert.True(t, strings.HasPrefix(lines[2], "    ✗ stock: reserve"), lines[2])
	assert.True(t, strings.HasPrefix(lines[3], "    app: GET /profile"), lines[3])
	assert.Contains(t, lines[0], "|"+strings.Repeat("█", 20)+"|", "the root spans the whole axis")
	assert.Contains(t, lines[3], strings.Repeat(" ", 18)+strings.Repeat("█", 2)+"|", "the late span sits at the end")
	assert.Contains(t, Waterfall(traceFrame(), 20, 2), "… 2 more spans")
}

func TestSessionsTableSortsByErrors(t *testing.T) {
	now := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	f := data.NewFrame("sessions",
		data.NewField("sessionId", nil, []string{"a", "b", "c"}),
		data.NewField("start", nil, []time.Time{now, now, now}),
		data.NewField("durationMs", nil, []float64{1, 2, 3}),
		data.NewField("appService", nil, []string{"app", "app", "app"}),
		data.NewField("appVersion", nil, []string{"1", "1", "1"}),
		data.NewField("osVersion", nil, []string{"17", "17", "17"}),
		data.NewField("deviceModel", nil, []string{"x", "x", "x"}),
		data.NewField("networkType", nil, []string{"wifi", "wifi", "cell"}),
		data.NewField("requests", nil, []int64{5, 9, 1}),
		data.NewField("errors", nil, []int64{0, 3, 1}),
		data.NewField("backendTraces", nil, []int64{5, 9, 1}),
		data.NewField("slowestRequestMs", nil, []float64{10, 20, 30}),
	)
	out := SessionsTable(f, 2)
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	require.Len(t, lines, 3, "header + 2 rows")
	assert.True(t, strings.HasPrefix(lines[1], "b "))
	assert.True(t, strings.HasPrefix(lines[2], "c "))
}
