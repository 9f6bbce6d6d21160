package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime/debug"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/log"
)

// queryHeader is the part of every query that picks its handler.
type queryHeader struct {
	QueryType string `json:"queryType"`
}

// QueryData answers each query on its own: one failing query never fails the
// others in the request.
func (d *Datasource) QueryData(ctx context.Context, req *backend.QueryDataRequest) (*backend.QueryDataResponse, error) {
	resp := backend.NewQueryDataResponse()
	if d.settingsErr != nil {
		for _, q := range req.Queries {
			resp.Responses[q.RefID] = backend.ErrorResponseWithErrorSource(d.settingsErr)
		}
		return resp, nil
	}
	for _, q := range req.Queries {
		resp.Responses[q.RefID] = d.query(ctx, q)
	}
	return resp, nil
}

func (d *Datasource) query(ctx context.Context, q backend.DataQuery) (res backend.DataResponse) {
	defer func() {
		if r := recover(); r != nil {
			log.DefaultLogger.FromContext(ctx).Error("query panicked", "refId", q.RefID, "panic", d.settings.Redact(fmt.Sprint(r)), "stack", string(debug.Stack()))
			res = backend.ErrDataResponseWithSource(backend.StatusInternal, backend.ErrorSourcePlugin, "internal error while running this query")
		}
	}()
	qt := q.QueryType
	var h queryHeader
	if err := json.Unmarshal(q.JSON, &h); err != nil {
		return backend.ErrDataResponseWithSource(backend.StatusBadRequest, backend.ErrorSourceDownstream, fmt.Sprintf("query is not valid JSON: %v", err))
	}
	if h.QueryType != "" {
		qt = h.QueryType
	}
	if qt == "" {
		return backend.ErrDataResponseWithSource(backend.StatusBadRequest, backend.ErrorSourceDownstream, "queryType: missing")
	}
	return backend.ErrDataResponseWithSource(backend.StatusBadRequest, backend.ErrorSourceDownstream,
		fmt.Sprintf("queryType: %q is not a query type this version of Stitch answers", qt))
}
