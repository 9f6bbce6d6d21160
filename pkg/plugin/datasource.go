// Package plugin is Stitch's adapter to Grafana: the data source instance and
// its SDK handlers (QueryData, CheckHealth, CallResource). Handlers stay thin;
// settings, store clients and the correlation logic live in their own packages.
package plugin

import (
	"context"
	"fmt"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/instancemgmt"

	"github.com/stitch-observability/stitch/pkg/frames"
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
	// uid is this data source's UID, for data links back to it.
	uid     string
	clients []*storehttp.Client

	// health holds every configured store's checker, by role.
	health map[settings.Role]stores.HealthChecker
	// The query side of the trace and log roles; nil when the role is not
	// configured.
	traces stores.TraceStore
	logs   stores.LogStore
	// metrics answers exemplarSessions (exemplars of the request-duration
	// histogram).
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
	ds := &Datasource{settings: s, uid: cfg.UID, health: map[settings.Role]stores.HealthChecker{}}
	for _, st := range s.Configured() {
		c, err := storehttp.New(st)
		if err != nil {
			ds.Dispose()
			return nil, err
		}
		ds.clients = append(ds.clients, c)
		switch st.Kind {
		case settings.KindJaeger:
			j := jaeger.New(c)
			ds.traces, ds.health[st.Role] = j, j
		case settings.KindTempo:
			t := tempo.New(c)
			ds.traces, ds.health[st.Role] = t, t
		case settings.KindVictoriaLogs:
			v := victorialogs.New(c)
			ds.logs, ds.health[st.Role] = v, v
		case settings.KindLoki:
			l := loki.New(c)
			ds.logs, ds.health[st.Role] = l, l
		case settings.KindPrometheus:
			p := prometheus.New(c)
			ds.metrics, ds.health[st.Role] = p, p
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
		out = append(out, storeChecker{store: st, checker: d.health[st.Role]})
	}
	return out
}

type storeChecker struct {
	store   *settings.Store
	checker stores.HealthChecker
}

// links are the data sources this instance's frames link to: itself, and
// the trace and log stores' Grafana data sources the user chose.
func (d *Datasource) links() frames.Links {
	l := frames.Links{Stitch: d.uid}
	if st := d.settings.Traces; st != nil {
		l.Traces = frames.Target{Kind: string(st.Kind), UID: st.LinkDatasourceUID}
	}
	if st := d.settings.Logs; st != nil {
		l.Logs = frames.Target{Kind: string(st.Kind), UID: st.LinkDatasourceUID}
	}
	return l
}
