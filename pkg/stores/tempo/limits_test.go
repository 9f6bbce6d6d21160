package tempo

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/stitch-observability/stitch/pkg/settings"
	"github.com/stitch-observability/stitch/pkg/stores/storehttp"
)

func tempoError(code int, msg string) error {
	return &storehttp.Error{Store: &settings.Store{}, StatusCode: code, Msg: msg}
}

func TestReadRefusal(t *testing.T) {
	for msg, want := range map[string]refusal{
		"limit 500 exceeds max limit 2":                                                      {kind: limitSearchTraces, n: 2},
		"spans per span set exceeds 50. received 100":                                        {kind: limitSpansPerSpanSet, n: 50},
		"range specified by start and end exceeds 168h0m0s. received start=1 end=900000":     {kind: limitSearchDuration, d: 168 * time.Hour},
		"range specified by start and end (1h0m0s) exceeds 30m0s. received start=1 end=3601": {kind: limitSearchDuration, d: 30 * time.Minute},
		"metrics query time range exceeds the maximum allowed duration of 3h0m0s":            {kind: limitMetricsDuration, d: 3 * time.Hour},
		"metrics query time range exceeds the maximum allowed duration of 1h30m0s":           {kind: limitMetricsDuration, d: 90 * time.Minute},
	} {
		got, ok := readRefusal(tempoError(http.StatusBadRequest, msg))
		assert.True(t, ok, msg)
		assert.Equal(t, want, got, msg)
	}
	for _, err := range []error{
		tempoError(http.StatusBadRequest, "invalid TraceQL query: parse error at line 1, col 3"),
		tempoError(http.StatusBadRequest, "limit 500 exceeds max limit 0"),
		tempoError(http.StatusBadRequest, "metrics query time range exceeds the maximum allowed duration of 0s"),
		tempoError(http.StatusInternalServerError, "limit 500 exceeds max limit 2"),
		errors.New("limit 500 exceeds max limit 2"),
	} {
		_, ok := readRefusal(err)
		assert.False(t, ok, "%v", err)
	}
}

func TestLimitsOnlyGoDown(t *testing.T) {
	var l tenantLimits
	assert.Equal(t, maxSearchLimit, l.maxSearchTraces(), "Tempo's default until a refusal says otherwise")
	assert.True(t, l.searchTraces.Lower(100))
	assert.False(t, l.searchTraces.Lower(100), "the same limit again teaches nothing: no retry")
	assert.False(t, l.searchTraces.Lower(200))
	assert.True(t, l.searchTraces.Lower(50))
	assert.Equal(t, 50, l.maxSearchTraces())
	l.spansPerSet.Lower(500)
	assert.Equal(t, spansPerSpanSet, l.spansPerSpanSet(), "never above what Stitch asks for")
	assert.Equal(t, maxMetricsWindow, l.metricsWindowLen())
}
