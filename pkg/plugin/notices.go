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
	Notices []noticeMeta `json:"notices"`
}

// addNotices puts the engine's notices on the first frame, where Grafana
// shows them on the panel, with their severity, and their causes in the
// frame's custom metadata. Every text passes the settings' redaction.
func (d *Datasource) addNotices(fs data.Frames, notices []engine.Notice) {
	if len(fs) == 0 || len(notices) == 0 {
		return
	}
	f := fs[0]
	if f.Meta == nil {
		f.Meta = &data.FrameMeta{}
	}
	custom := frameCustomMeta{}
	for _, n := range notices {
		text := d.settings.Redact(n.Text)
		sev, sevName := data.NoticeSeverityInfo, "info"
		if n.Severity == engine.SeverityWarning {
			sev, sevName = data.NoticeSeverityWarning, "warning"
		}
		f.Meta.Notices = append(f.Meta.Notices, data.Notice{Severity: sev, Text: text})
		custom.Notices = append(custom.Notices, noticeMeta{Severity: sevName, Cause: string(n.Cause), Store: n.Store, Text: text})
	}
	f.Meta.Custom = custom
}
