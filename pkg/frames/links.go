package frames

import (
	"github.com/grafana/grafana-plugin-sdk-go/data"
)

// Links are the Grafana data sources Stitch's frames link to: this Stitch
// data source (a session's timeline, the session-detail dashboard) and, when
// the user chose them in the ConfigEditor, the trace and log stores' own
// Grafana data sources (a trace in Tempo or Jaeger, a span's logs in Loki or
// VictoriaLogs).
type Links struct {
	// Stitch is this data source's uid.
	Stitch string
	Traces Target
	Logs   Target
}

// Target is a Grafana data source a link opens: its uid and the kind of
// store behind it, which decides the query language. An empty UID means no
// link.
type Target struct {
	Kind string // jaeger, tempo, loki or victorialogs
	UID  string
}

// Field references Grafana interpolates when a link is clicked: the clicked
// cell, and the trace and span ID of its row (the ID columns hold validated
// hex, so they are safe inside a query's string literal).
const valueRef = "${__value.raw}"

func rowRef(field string) string { return "${__data.fields." + field + "}" }

// traceLink opens a trace by ID in the trace store's data source.
func (l Links) traceLink(traceIDRef string) (data.DataLink, bool) {
	t := l.Traces
	var query map[string]any
	switch t.Kind {
	case "tempo":
		// Tempo's query editor takes a trace ID as a TraceQL query.
		query = map[string]any{"queryType": "traceql", "query": traceIDRef}
	case "jaeger":
		query = map[string]any{"queryType": "", "query": traceIDRef}
	default:
		return data.DataLink{}, false
	}
	if t.UID == "" {
		return data.DataLink{}, false
	}
	return data.DataLink{Title: "Open trace in " + kindName(t.Kind), Internal: &data.InternalDataLink{DatasourceUID: t.UID, Query: query}}, true
}

// logsLink opens the log records of a trace, or of one span of it when
// spanIDRef is set, in the log store's data source, in that store's query
// language (the same filters Stitch's own log searches use).
func (l Links) logsLink(title, traceIDRef, spanIDRef string) (data.DataLink, bool) {
	t := l.Logs
	var query map[string]any
	switch t.Kind {
	case "loki":
		expr := `{service_name=~".+"} | trace_id="` + traceIDRef + `"`
		if spanIDRef != "" {
			expr += ` | span_id="` + spanIDRef + `"`
		}
		query = map[string]any{"expr": expr, "queryType": "range"}
	case "victorialogs":
		expr := `trace_id:="` + traceIDRef + `"`
		if spanIDRef != "" {
			expr += ` span_id:="` + spanIDRef + `"`
		}
		query = map[string]any{"expr": expr}
	default:
		return data.DataLink{}, false
	}
	if t.UID == "" {
		return data.DataLink{}, false
	}
	return data.DataLink{Title: title + " in " + kindName(t.Kind), Internal: &data.InternalDataLink{DatasourceUID: t.UID, Query: query}}, true
}

// sessionTimelineLink opens a session's timeline with this data source.
func (l Links) sessionTimelineLink(sessionIDRef string) data.DataLink {
	return data.DataLink{
		Title: "Open session timeline",
		Internal: &data.InternalDataLink{
			DatasourceUID: l.Stitch,
			Query:         map[string]any{"queryType": "sessionTimeline", "sessionId": sessionIDRef},
		},
	}
}

// sessionDashboardLink opens the bundled session-detail dashboard on a
// session, with this data source and the panel's time range.
func (l Links) sessionDashboardLink(sessionIDRef string) data.DataLink {
	return data.DataLink{
		Title: "Open session detail dashboard",
		URL:   "/d/stitch-session-detail/stitch-session-detail?var-session=" + sessionIDRef + "&var-datasource=" + l.Stitch + "&${__url_time_range}",
	}
}

// link adds links to a field's config.
func link(f *data.Field, links ...data.DataLink) {
	if len(links) == 0 {
		return
	}
	if f.Config == nil {
		f.Config = &data.FieldConfig{}
	}
	f.Config.Links = append(f.Config.Links, links...)
}

// linkList gathers a field's links, leaving out the ones not configured.
type linkList []data.DataLink

func (ls *linkList) add(l data.DataLink, ok bool) {
	if ok {
		*ls = append(*ls, l)
	}
}

func kindName(kind string) string {
	switch kind {
	case "tempo":
		return "Tempo"
	case "jaeger":
		return "Jaeger"
	case "loki":
		return "Loki"
	case "victorialogs":
		return "VictoriaLogs"
	}
	return kind
}
