//go:build integration

package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stitch-observability/stitch/pkg/schema"
	"github.com/stitch-observability/stitch/pkg/settings"
	"github.com/stitch-observability/stitch/pkg/stores"
	"github.com/stitch-observability/stitch/pkg/stores/storehttp"
	"github.com/stitch-observability/stitch/pkg/stores/victorialogs"
)

// Hostile values stored in the real VictoriaLogs are each found exactly once
// by the LogsQL the adapter builds: no value escapes its string literal.
func TestLogsQLRoundTripHostileValues(t *testing.T) {
	ctx := testContext(t)
	run := fmt.Sprintf("rt-%d", time.Now().UnixNano())
	hostile := []string{
		`with "quotes"`, `back\slash`, "new\nline", `}{"`, "unicode ✓ 世界", `a|b:c`, `*`, "`backticks`",
		`") OR * | delete`, `\"`, `session.id:="x"`, `'single'`, "tab\there",
	}
	var body bytes.Buffer
	now := time.Now().UTC()
	for i, v := range hostile {
		line, _ := json.Marshal(map[string]string{
			"_time": now.Add(time.Duration(i) * time.Millisecond).Format(time.RFC3339Nano), "_msg": "roundtrip " + run,
			"service.name": "roundtrip", schema.AttrSessionID: v, "run": run,
		})
		body.Write(line)
		body.WriteByte('\n')
	}
	ingest := theStack.VictoriaLogsURL() + "/insert/jsonline?_stream_fields=service.name&_msg_field=_msg&_time_field=_time"
	resp, err := http.Post(ingest, "application/stream+json", &body)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	flush, err := http.Get(theStack.VictoriaLogsURL() + "/internal/force_flush")
	require.NoError(t, err)
	flush.Body.Close()

	raw, _ := json.Marshal(map[string]any{"logs": storeJSON("victorialogs", theStack.VictoriaLogsURL())})
	s, err := settings.Load(backend.DataSourceInstanceSettings{JSONData: raw})
	require.NoError(t, err)
	c, err := storehttp.New(s.Logs)
	require.NoError(t, err)
	vl := victorialogs.New(c)

	for _, v := range hostile {
		var res stores.LogSearchResult
		require.Eventually(t, func() bool {
			res, err = vl.SearchLogs(ctx, stores.LogSearch{SessionID: v, Start: now, End: now.Add(time.Second), Limit: 10})
			return err == nil && len(res.Records) > 0
		}, 10*time.Second, 200*time.Millisecond, "value %q found", v)
		require.Len(t, res.Records, 1, "value %q matched exactly one record", v)
		assert.Equal(t, v, res.Records[0].Attributes.Value(schema.AttrSessionID))
		assert.Equal(t, run, res.Records[0].Attributes.Value("run"))
	}
}
