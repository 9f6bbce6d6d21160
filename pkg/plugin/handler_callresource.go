package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/resource/httpadapter"

	"github.com/stitch-observability/stitch/pkg/correlation"
	"github.com/stitch-observability/stitch/pkg/engine"
	"github.com/stitch-observability/stitch/pkg/query"
	"github.com/stitch-observability/stitch/pkg/schema"
)

// maxValues caps what the values route returns.
const maxValues = 500

// CallResource serves the editors' and template variables' resource routes.
func (d *Datasource) CallResource(ctx context.Context, req *backend.CallResourceRequest, sender backend.CallResourceResponseSender) error {
	return d.resources.CallResource(ctx, req, sender)
}

// storeInfo describes a configured store to the editors: never a secret.
type storeInfo struct {
	Role string `json:"role"`
	Kind string `json:"kind"`
	Host string `json:"host"`
}

// valueAttributes maps the values route's attribute names (the sessions
// query's filter names) to how a session summary holds them.
var valueAttributes = map[string]func(*correlation.SessionSummary) string{
	"appService":  func(s *correlation.SessionSummary) string { return s.App.Service },
	"appVersion":  func(s *correlation.SessionSummary) string { return s.App.Version },
	"osVersion":   func(s *correlation.SessionSummary) string { return s.App.OSVersion },
	"deviceModel": func(s *correlation.SessionSummary) string { return s.App.DeviceModel },
	"networkType": func(s *correlation.SessionSummary) string { return s.App.NetworkType },
	"sessionId":   func(s *correlation.SessionSummary) string { return s.SessionID },
}

func newResourceHandler(d *Datasource) backend.CallResourceHandler {
	mux := http.NewServeMux()
	// Every route needs a configured instance and a signed-in Grafana user.
	guard := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if d == nil || d.settingsErr != nil {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": "the data source settings are invalid; open its configuration page"})
				return
			}
			if u := httpadapter.UserFromContext(r.Context()); u == nil || u.Login == "" {
				writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "no Grafana user on the request"})
				return
			}
			h(w, r)
		}
	}
	mux.HandleFunc("GET /stores", guard(func(w http.ResponseWriter, r *http.Request) {
		out := []storeInfo{}
		for _, st := range d.settings.Configured() {
			out = append(out, storeInfo{Role: string(st.Role), Kind: string(st.Kind), Host: st.Host()})
		}
		writeJSON(w, http.StatusOK, map[string]any{"stores": out})
	}))
	// GET /values?attribute=appVersion&from=<ms>&to=<ms>: the values seen in
	// the time range, for the editor's dropdowns and template variables.
	mux.HandleFunc("GET /values", guard(func(w http.ResponseWriter, r *http.Request) {
		attr := r.URL.Query().Get("attribute")
		pick, ok := valueAttributes[attr]
		if attr == "endpoint" {
			ok = true
		}
		if !ok {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "attribute: choose appService, appVersion, osVersion, deviceModel, networkType, endpoint or sessionId"})
			return
		}
		from, to, err := timeRange(r)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		var values []string
		if attr == "endpoint" {
			values, err = d.engine().Endpoints(r.Context(), from, to, maxValues+1)
		} else {
			var sr *engine.SessionsResult
			sr, err = d.engine().Sessions(r.Context(), query.Sessions{Limit: query.MaxSessionsLimit}, from, to)
			if err == nil {
				seen := map[string]bool{}
				for _, s := range sr.Sessions {
					if v := pick(s); v != "" && !seen[v] {
						seen[v] = true
						values = append(values, v)
					}
				}
			}
		}
		if err != nil {
			writeJSON(w, http.StatusBadGateway, map[string]string{"error": d.settings.Redact(err.Error())})
			return
		}
		sort.Strings(values)
		truncated := len(values) > maxValues
		if truncated {
			values = values[:maxValues]
		}
		writeJSON(w, http.StatusOK, map[string]any{"attribute": attr, "values": values, "truncated": truncated})
	}))
	// GET /sessions/<id>?from&to: one session's summary, for lookups by ID.
	mux.HandleFunc("GET /sessions/{id}", guard(func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if err := schema.ValidSessionID(id); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "session ID: " + err.Error()})
			return
		}
		from, to, err := timeRange(r)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		res, err := d.engine().SessionTimeline(r.Context(), id, from, to)
		if err != nil {
			writeJSON(w, http.StatusBadGateway, map[string]string{"error": d.settings.Redact(err.Error())})
			return
		}
		tl := res.Timeline
		if len(tl.Requests)+len(tl.Actions)+len(tl.Backend)+len(tl.Logs) == 0 {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "no data for session " + id + " in this time range"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"sessionId": id, "start": tl.Start, "end": tl.End, "appService": tl.App.Service, "appVersion": tl.App.Version,
			"osVersion": tl.App.OSVersion, "deviceModel": tl.App.DeviceModel, "requests": len(tl.Requests),
			"backendSpans": len(tl.Backend), "logRecords": len(tl.Logs),
		})
	}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no resource route " + r.Method + " " + r.URL.Path})
	})
	return httpadapter.New(mux)
}

// timeRange reads from/to (Unix milliseconds, as Grafana's editors send
// them); the last hour by default.
func timeRange(r *http.Request) (time.Time, time.Time, error) {
	to := time.Now()
	from := to.Add(-time.Hour)
	parse := func(name string, dst *time.Time) error {
		v := r.URL.Query().Get(name)
		if v == "" {
			return nil
		}
		ms, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return errors.New(name + ": want Unix milliseconds")
		}
		*dst = time.UnixMilli(ms)
		return nil
	}
	if err := parse("from", &from); err != nil {
		return from, to, err
	}
	if err := parse("to", &to); err != nil {
		return from, to, err
	}
	if !from.Before(to) {
		return from, to, errors.New("from must be before to")
	}
	return from, to, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
