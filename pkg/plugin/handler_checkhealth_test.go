package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stitch-observability/stitch/pkg/settings"
)

type fakeChecker struct {
	detail string
	err    error
	panics bool
}

func (f fakeChecker) CheckHealth(context.Context) (string, error) {
	if f.panics {
		panic("adapter bug")
	}
	return f.detail, f.err
}

func newTestDatasource(t *testing.T, secure map[string]string) *Datasource {
	t.Helper()
	raw := `{"traces":{"kind":"jaeger","url":"http://127.0.0.1:1"},"logs":{"kind":"victorialogs","url":"http://127.0.0.1:2","auth":"bearer"},"metrics":{"kind":"prometheus","url":"http://127.0.0.1:3"}}`
	inst, err := NewDatasource(context.Background(), backend.DataSourceInstanceSettings{JSONData: json.RawMessage(raw), DecryptedSecureJSONData: secure})
	require.NoError(t, err)
	ds := inst.(*Datasource)
	t.Cleanup(ds.Dispose)
	return ds
}

func TestCheckHealthOneLinePerStoreAndRedacts(t *testing.T) {
	ds := newTestDatasource(t, map[string]string{"logsBearerToken": "sekret-token-xyz"})
	ds.health[settings.RoleTraces] = fakeChecker{detail: "3 services"}
	ds.health[settings.RoleLogs] = fakeChecker{err: errors.New(`store said: bad token "sekret-token-xyz"`)}
	ds.health[settings.RoleMetrics] = fakeChecker{panics: true}

	res, err := ds.CheckHealth(context.Background(), &backend.CheckHealthRequest{})
	require.NoError(t, err)
	assert.Equal(t, backend.HealthStatusError, res.Status)
	assert.Contains(t, res.Message, "traces (jaeger, 127.0.0.1:1): ok — 3 services")
	assert.Contains(t, res.Message, "logs (victorialogs, 127.0.0.1:2): error — store said: bad token \"[redacted]\"")
	assert.Contains(t, res.Message, "metrics (prometheus, 127.0.0.1:3): error — internal error while checking this store")
	assert.NotContains(t, res.Message+string(res.JSONDetails), "sekret-token-xyz")

	var d HealthDetails
	require.NoError(t, json.Unmarshal(res.JSONDetails, &d))
	require.Len(t, d.Stores, 3)
	assert.True(t, d.Stores[0].OK)
	assert.False(t, d.Stores[1].OK)
	assert.False(t, d.Stores[2].OK)
}

func TestCheckHealthAllOK(t *testing.T) {
	ds := newTestDatasource(t, map[string]string{"logsBearerToken": "t"})
	ds.health[settings.RoleTraces], ds.health[settings.RoleLogs], ds.health[settings.RoleMetrics] = fakeChecker{detail: "a"}, fakeChecker{detail: "b"}, fakeChecker{detail: "c"}
	res, err := ds.CheckHealth(context.Background(), &backend.CheckHealthRequest{})
	require.NoError(t, err)
	assert.Equal(t, backend.HealthStatusOk, res.Status)
}

func TestInvalidSettingsReachEveryHandler(t *testing.T) {
	inst, err := NewDatasource(context.Background(), backend.DataSourceInstanceSettings{JSONData: json.RawMessage(`{"metrics":{"kind":"graphite","url":"http://x"}}`)})
	require.NoError(t, err, "the instance exists so handlers can say what to fix")
	ds := inst.(*Datasource)
	res, err := ds.CheckHealth(context.Background(), &backend.CheckHealthRequest{})
	require.NoError(t, err)
	assert.Equal(t, backend.HealthStatusError, res.Status)
	assert.Contains(t, res.Message, "metrics.kind")

	qr, err := ds.QueryData(context.Background(), &backend.QueryDataRequest{Queries: []backend.DataQuery{{RefID: "A", JSON: []byte(`{"queryType":"sessions"}`)}}})
	require.NoError(t, err)
	assert.ErrorContains(t, qr.Responses["A"].Error, "metrics.kind")
	assert.Equal(t, backend.ErrorSourceDownstream, qr.Responses["A"].ErrorSource)
}
