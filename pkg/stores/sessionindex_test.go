package stores

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/stitch-observability/stitch/pkg/schema"
	"github.com/stitch-observability/stitch/pkg/telemetry"
)

func TestIndexSessions(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	rec := func(sid string, at time.Duration, kv ...telemetry.KV) telemetry.LogRecord {
		return telemetry.LogRecord{Time: t0.Add(at), Service: "app", Attributes: append(telemetry.Attrs{
			{Key: schema.AttrDeviceModelIdentifier, Value: "iPhone16,1"}, {Key: schema.AttrSessionID, Value: sid}}, kv...)}
	}
	id := func(n int) string { return fmt.Sprintf("%032x", n) }
	wifi := telemetry.KV{Key: schema.AttrNetworkConnectionType, Value: "wifi"}
	failed := telemetry.KV{Key: schema.AttrErrorType, Value: "503"}
	records := []telemetry.LogRecord{
		rec(id(1), 0), rec(id(1), 10*time.Second, wifi), rec(id(1), 20*time.Second, failed),
		rec(id(2), 5*time.Second), rec(id(2), 6*time.Second, failed), rec(id(2), 7*time.Second, failed),
		rec(id(3), 30*time.Second),
		// A backend record of a session is no device record: not counted.
		{Time: t0, Service: "orders", Attributes: telemetry.Attrs{{Key: schema.AttrSessionID, Value: id(4)}}},
	}
	ids := func(p SessionPage) []string {
		var out []string
		for _, r := range p.Rows {
			out = append(out, r.SessionID)
		}
		return out
	}
	all := IndexSessions(records, SessionQuery{Limit: 2})
	assert.Equal(t, 3, all.Total)
	assert.Equal(t, []string{id(3), id(2)}, ids(all), "latest first, cut at the limit")
	assert.Equal(t, []string{id(2), id(1)}, ids(IndexSessions(records, SessionQuery{Order: OrderByErrors, ErrorsOnly: true, Limit: 5})))
	assert.Equal(t, []string{id(1), id(2), id(3)}, ids(IndexSessions(records, SessionQuery{Order: OrderByDuration, Limit: 5})))
	wifiOnly := IndexSessions(records, SessionQuery{RecordMatch: []telemetry.KV{wifi}, Limit: 5})
	assert.Equal(t, []string{id(1)}, ids(wifiOnly))
	assert.Equal(t, 20*time.Second, wifiOnly.Rows[0].Last.Sub(wifiOnly.Rows[0].First), "the extent covers all of the session's records")
	assert.Equal(t, []string{id(1)}, ids(IndexSessions(records, SessionQuery{MinDuration: 10 * time.Second, Limit: 5})))
	assert.Equal(t, []string{id(3)}, ids(IndexSessions(records, SessionQuery{Sessions: []string{id(3), id(9)}, Limit: 5})))
	assert.Zero(t, IndexSessions(records, SessionQuery{Sessions: []string{}, Limit: 5}).Total)
}
