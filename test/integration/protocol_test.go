//go:build integration

package integration

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stitch-observability/stitch/internal/pluginharness"
)

func mustQuery(t *testing.T, refID string, model map[string]any) backend.DataQuery {
	t.Helper()
	to := time.Now()
	q, err := pluginharness.Query(refID, model, to.Add(-time.Hour), to)
	require.NoError(t, err)
	return q
}

// One bad query never fails the others: each RefID gets its own answer.
func TestQueryDataEachQueryAnsweredOnItsOwn(t *testing.T) {
	inst := newInstance(t, stackSettings(), nil)
	bad := mustQuery(t, "A", map[string]any{"queryType": "no-such-type"})
	missing := mustQuery(t, "B", map[string]any{})
	notJSON := mustQuery(t, "C", nil)
	notJSON.JSON = []byte("{not json")
	res, err := grafana.QueryData(testContext(t), inst, bad, missing, notJSON)
	require.NoError(t, err)
	require.Len(t, res.Responses, 3)
	assert.ErrorContains(t, res.Responses["A"].Error, "queryType")
	assert.ErrorContains(t, res.Responses["A"].Error, "no-such-type")
	assert.Equal(t, backend.ErrorSourceDownstream, res.Responses["A"].ErrorSource)
	assert.ErrorContains(t, res.Responses["B"].Error, "queryType: missing")
	assert.ErrorContains(t, res.Responses["C"].Error, "not valid JSON")
	assert.False(t, grafana.Exited(), "the plugin is still running")
}

func TestQueryDataInvalidSettings(t *testing.T) {
	inst := newInstance(t, map[string]any{"traces": map[string]any{"kind": "jaeger", "url": "ftp://x"}}, nil)
	res, err := grafana.QueryData(testContext(t), inst, mustQuery(t, "A", map[string]any{"queryType": "sessions"}))
	require.NoError(t, err)
	assert.ErrorContains(t, res.Responses["A"].Error, "traces.url")
	assert.Equal(t, backend.ErrorSourceDownstream, res.Responses["A"].ErrorSource)
}

func TestCallResourceStores(t *testing.T) {
	inst := newInstance(t, stackSettings(), map[string]string{"tracesBearerToken": "never-shown-1234"})
	ctx := testContext(t)
	res, err := grafana.CallResource(ctx, inst, http.MethodGet, "stores", nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.Status, string(res.Body))
	var body struct {
		Stores []struct{ Role, Kind, Host string } `json:"stores"`
	}
	require.NoError(t, json.Unmarshal(res.Body, &body))
	require.Len(t, body.Stores, 3)
	assert.Equal(t, "traces", body.Stores[0].Role)
	assert.Equal(t, "jaeger", body.Stores[0].Kind)
	assert.NotContains(t, string(res.Body), "never-shown")

	res, err = grafana.CallResource(ctx, inst, http.MethodGet, "no/such/route", nil)
	require.NoError(t, err)
	assert.Equal(t, http.StatusNotFound, res.Status)
	assert.Contains(t, string(res.Body), "no resource route")
}

func TestCallResourceRoutesCheckTheCaller(t *testing.T) {
	inst := newInstance(t, stackSettings(), nil)
	inst.Anonymous = true
	res, err := grafana.CallResource(testContext(t), inst, http.MethodGet, "stores", nil)
	require.NoError(t, err)
	assert.Equal(t, http.StatusUnauthorized, res.Status)
}

func TestCallResourceValuesAndSessionLookupValidateInput(t *testing.T) {
	inst := newInstance(t, stackSettings(), nil)
	ctx := testContext(t)
	res, err := grafana.CallResource(ctx, inst, http.MethodGet, "values?attribute=password", nil)
	require.NoError(t, err)
	assert.Equal(t, http.StatusBadRequest, res.Status)
	assert.Contains(t, string(res.Body), "attribute: choose")

	res, err = grafana.CallResource(ctx, inst, http.MethodGet, "sessions/not-a-session", nil)
	require.NoError(t, err)
	assert.Equal(t, http.StatusBadRequest, res.Status)

	res, err = grafana.CallResource(ctx, inst, http.MethodGet, "values?attribute=appVersion&from=abc", nil)
	require.NoError(t, err)
	assert.Equal(t, http.StatusBadRequest, res.Status)
	assert.Contains(t, string(res.Body), "from: want Unix milliseconds")
}
