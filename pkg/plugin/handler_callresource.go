package plugin

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/resource/httpadapter"
)

// CallResource serves the editor's resource routes.
func (d *Datasource) CallResource(ctx context.Context, req *backend.CallResourceRequest, sender backend.CallResourceResponseSender) error {
	return d.resources.CallResource(ctx, req, sender)
}

// storeInfo describes a configured store to the editors: never a secret.
type storeInfo struct {
	Role string `json:"role"`
	Kind string `json:"kind"`
	Host string `json:"host"`
}

func newResourceHandler(d *Datasource) backend.CallResourceHandler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stores", func(w http.ResponseWriter, r *http.Request) {
		if d == nil || d.settingsErr != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "the data source settings are invalid; open its configuration page"})
			return
		}
		out := []storeInfo{}
		for _, st := range d.settings.Configured() {
			out = append(out, storeInfo{Role: string(st.Role), Kind: string(st.Kind), Host: st.Host()})
		}
		writeJSON(w, http.StatusOK, map[string]any{"stores": out})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no resource route " + r.Method + " " + r.URL.Path})
	})
	return httpadapter.New(mux)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
