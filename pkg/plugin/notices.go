package plugin

import (
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/stitch-observability/stitch/pkg/engine"
)

// noticeMeta is how each notice's cause travels in the frame's custom
// metadata, beside Grafana's notice list (which has no field for it): an
// alert or a dashboard can tell a store's fault from a limit of the query.
type noticeMeta struct {
	Severity string `json:"severity"`
	Cause    string `json:"cause"`
	Store    string `json:"store,omitempty"`
	Text     string `json:"text"`
}

// frameCustomMeta is Stitch's custom frame metadata.
type frameCustomMeta struct {
	Notices []noticeMeta `json:"notices,omitempty"`
	// Total is how many rows matched in all, where a limit cut what is
	// shown (the sessions list).
	Total *int `json:"total,omitempty"`
	// StoreRequests counts the HTTP requests the query made to its stores.
	StoreRequests int64 `json:"storeRequests"`
}

// customMeta is the first frame's custom metadata, created when absent.
func customMeta(f *data.Frame) *frameCustomMeta {
	if f.Meta == nil {
		f.Meta = &data.FrameMeta{}
	}
	if c, ok := f.Meta.Custom.(*frameCustomMeta); ok {
		return c
	}
	c := &frameCustomMeta{}
	f.Meta.Custom = c
	return c
}

// addStat shows a figure in Grafana's query inspector (frame stats) and
// puts it in the custom metadata too.
func addStat(f *data.Frame, name string, value float64) {
	if f.Meta == nil {
		f.Meta = &data.FrameMeta{}
	}
	f.Meta.Stats = append(f.Meta.Stats, data.QueryStat{FieldConfig: data.FieldConfig{DisplayName: name}, Value: value})
}

// addTotal reports how many rows matched, beside the rows shown.
func addTotal(fs data.Frames, total int) {
	if len(fs) == 0 {
		return
	}
	addStat(fs[0], "Matching sessions", float64(total))
	customMeta(fs[0]).Total = &total
}

// addStoreRequests reports the store requests a query made, so the cost of
// a query can be read off its answer.
func addStoreRequests(fs data.Frames, n int64) {
	if len(fs) == 0 {
		return
	}
	addStat(fs[0], "Store requests", float64(n))
	customMeta(fs[0]).StoreRequests = n
}

// addNotices puts the engine's notices on the first frame, where Grafana
// shows them on the panel, with their severity, and their causes in the
// frame's custom metadata. Every text passes the settings' redaction.
func (d *Datasource) addNotices(fs data.Frames, notices []engine.Notice) {
	if len(fs) == 0 || len(notices) == 0 {
		return
	}
	f := fs[0]
	custom := customMeta(f)
	for _, n := range notices {
		text := d.settings.Redact(n.Text)
		sev, sevName := data.NoticeSeverityInfo, "info"
		if n.Severity == engine.SeverityWarning {
			sev, sevName = data.NoticeSeverityWarning, "warning"
		}
		f.Meta.Notices = append(f.Meta.Notices, data.Notice{Severity: sev, Text: text})
		custom.Notices = append(custom.Notices, noticeMeta{Severity: sevName, Cause: string(n.Cause), Store: n.Store, Text: text})
	}
}
