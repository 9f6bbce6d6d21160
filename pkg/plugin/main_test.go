package plugin

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/stitch-observability/stitch/pkg/settings"
)

// Every test of the package must leave no goroutine running: a query that
// leaks one per call would exhaust a long-running plugin.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// A cancelled query and a failed query leave nothing behind once their data
// source is disposed and their store is gone.
func TestFinishedQueriesLeaveNoGoroutine(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	jaeger := storeKind{settings.KindJaeger, settings.RoleTraces, nil}
	for _, f := range storeFaults {
		if f.name != "context cancelled" && f.name != "500" {
			continue
		}
		// A subtest, so that its cleanups (the store's server, the data
		// source's Dispose) have run when it returns.
		t.Run(f.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			url, _ := faultyStore(t, f, cancel)
			ds := faultyDatasource(t, jaeger, url)
			var queries []backend.DataQuery
			for qt, raw := range faultQueries {
				queries = append(queries, backend.DataQuery{RefID: qt, JSON: json.RawMessage(raw), TimeRange: goldenRange(), Interval: time.Minute})
			}
			res, err := ds.QueryData(ctx, &backend.QueryDataRequest{Queries: queries})
			require.NoError(t, err)
			require.Error(t, res.Responses["errorCascades"].Error)
		})
	}
	goleak.VerifyNone(t, ignore)
}
