// Package plugin is Stitch's adapter to Grafana: the data source instance and
// its SDK handlers (QueryData, CheckHealth, CallResource). Handlers stay thin;
// settings, store clients and the correlation logic live in their own packages.
package plugin

import (
	"context"
	"fmt"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/instancemgmt"

	"github.com/stitch-observability/stitch/pkg/settings"
	"github.com/stitch-observability/stitch/pkg/stores"
	"github.com/stitch-observability/stitch/pkg/stores/jaeger"
	"github.com/stitch-observability/stitch/pkg/stores/loki"
	"github.com/stitch-observability/stitch/pkg/stores/prometheus"
	"github.com/stitch-observability/stitch/pkg/stores/storehttp"
	"github.com/stitch-observability/stitch/pkg/stores/tempo"
	"github.com/stitch-observability/stitch/pkg/stores/victorialogs"
)

// ID is the plugin ID from plugin.json.
const ID = "stitch-sessions-datasource"

var (
	_ backend.QueryDataHandler      = (*Datasource)(nil)
	_ backend.CheckHealthHandler    = (*Datasource)(nil)
	_ backend.CallResourceHandler   = (*Datasource)(nil)
	_ instancemgmt.InstanceDisposer = (*Datasource)(nil)
)

// Datasource is one configured Stitch data source: its validated settings
// and one client per configured store, built once and released in Dispose.
type Datasource struct {
	// settingsErr is set when the configuration is invalid: the instance
	// still exists so that every handler can say what to fix.
	settingsErr error
	settings    *settings.Settings
	clients  []*storehttp.Client

	traces  stores.TraceStore
	logs    stores.LogStore
	metrics stores.MetricStore

	resources backend.CallResourceHandler
}

// NewDatasource is the instance factory Grafana's instance manager calls when
// a data source is created or its settings change.
func NewDatasource(_ context.Context, cfg backend.DataSourceInstanceSettings) (instancemgmt.Instance, error) {
	s, err := settings.Load(cfg)
	if err != nil {
		return &Datasource{settingsErr: err, settings: &settings.Settings{}, resources: newResourceHandler(nil)}, nil
	}
	ds := &Datasource{settings: s}
	for _, st := range s.Configured() {
		c, err := storehttp.New(st)
		if err != nil {
			ds.Dispose()
			return nil, err
		}
		ds.clients = append(ds.clients, c)
		switch st.Kind {
		case settings.KindJaeger:
			ds.traces = jaeger.New(c)
		case settings.KindTempo:
			ds.traces = tempo.New(c)
		case settings.KindVictoriaLogs:
			ds.logs = victorialogs.New(c)
		case settings.KindLoki:
			ds.logs = loki.New(c)
		case settings.KindPrometheus:
			ds.metrics = prometheus.New(c)
		default:
			ds.Dispose()
			return nil, fmt.Errorf("store kind %q has no adapter", st.Kind)
		}
	}
	ds.resources = newResourceHandler(ds)
	return ds, nil
}

// Dispose releases the store clients' connections.
func (d *Datasource) Dispose() {
	for _, c := range d.clients {
		c.Close()
	}
}

// healthCheckers pairs each configured store with its adapter, in role order.
func (d *Datasource) healthCheckers() []storeChecker {
	var out []storeChecker
	for _, st := range d.settings.Configured() {
		var hc stores.HealthChecker
		switch st.Role {
		case settings.RoleTraces:
			hc = d.traces
		case settings.RoleLogs:
			hc = d.logs
		case settings.RoleMetrics:
			hc = d.metrics
		}
		out = append(out, storeChecker{store: st, checker: hc})
	}
	return out
}

type storeChecker struct {
	store   *settings.Store
	checker stores.HealthChecker
}
