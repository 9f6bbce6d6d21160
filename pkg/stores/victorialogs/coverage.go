package victorialogs

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/stitch-observability/stitch/pkg/stores"
)

var _ stores.LogCoverageCounter = (*Store)(nil)

// LogCoverage counts records per service and those with a trace ID with one
// LogsQL stats query (count(field) counts records where the field is set).
func (s *Store) LogCoverage(ctx context.Context, start, end time.Time) (map[string]stores.LogCoverage, error) {
	q := fmt.Sprintf(`* | stats by (%s) count() as records, count(%s) as with_trace`, quote(fieldService), quote(fieldTraceID))
	rows, err := s.query(ctx, q, start, end, 0)
	if err != nil {
		return nil, err
	}
	out, err := coverageFromRows(rows)
	if err != nil {
		return nil, s.client.NotTheAPI(queryPath, nil, err)
	}
	return out, nil
}

// coverageFromRows reads the stats rows, one per service. Counts are
// checked: records with a trace ID are some of the records.
func coverageFromRows(rows []map[string]string) (map[string]stores.LogCoverage, error) {
	out := make(map[string]stores.LogCoverage, len(rows))
	for _, r := range rows {
		n, err1 := strconv.Atoi(r["records"])
		w, err2 := strconv.Atoi(r["with_trace"])
		if err1 != nil || err2 != nil || n < 0 || w < 0 || w > n {
			return nil, fmt.Errorf("stats row %v", r)
		}
		out[r[fieldService]] = stores.LogCoverage{Records: n, WithTraceID: w}
	}
	return out, nil
}
