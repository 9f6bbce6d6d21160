package tempo

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
)

// tagValuesPath is the v2 tag values route (API docs, "Search tag values
// V2"): its tag is a scoped TraceQL identifier.
const tagValuesPath = "/api/v2/search/tag/"

type tagValuesResponse struct {
	TagValues []struct {
		Type  string `json:"type"`
		Value string `json:"value"`
	} `json:"tagValues"`
}

// TagValues lists the values Tempo has seen for an attribute in [start, end]
// (for the query editor), at most limit, in the order Tempo returns them.
// The attribute is scoped by the schema as searches are.
func (s *Store) TagValues(ctx context.Context, attr string, start, end time.Time, limit int) ([]string, error) {
	ref, err := AttrRef(ScopeOf(attr), attr)
	if err != nil {
		return nil, backend.DownstreamError(fmt.Errorf("tempo tag values: %w", err))
	}
	start, end = s.searchRange(start, end)
	params := url.Values{
		"start": {strconv.FormatInt(start.Unix(), 10)},
		"end":   {strconv.FormatInt(ceilUnix(end), 10)},
	}
	if limit > 0 {
		params.Set("limit", strconv.Itoa(limit))
	}
	var res tagValuesResponse
	if err := s.getJSON(ctx, tagValuesPath+url.PathEscape(ref)+"/values", params, &res, "tagValues", "metrics"); err != nil {
		return nil, err
	}
	return distinctValues(&res, limit), nil
}

// distinctValues is each value of a tag values answer once, in Tempo's
// order, at most limit (all when limit is 0).
func distinctValues(res *tagValuesResponse, limit int) []string {
	seen := map[string]bool{}
	out := make([]string, 0, len(res.TagValues))
	for _, tv := range res.TagValues {
		if seen[tv.Value] {
			continue
		}
		seen[tv.Value] = true
		out = append(out, tv.Value)
		if limit > 0 && len(out) == limit {
			break
		}
	}
	return out
}
