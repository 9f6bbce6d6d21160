//go:build integration

package integration

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stitch-observability/stitch/internal/pluginharness"
	"github.com/stitch-observability/stitch/internal/stack"
)

// privateStack starts a short-lived stack of just the named stores on free
// ports, for a test that harms them: never the developer's stack, nor the
// suite's. The cached binaries start in a second or two.
func privateStack(t *testing.T, stores ...string) *stack.Stack {
	t.Helper()
	ports, err := stack.FreePorts()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := stack.Start(ctx, stack.Options{Dir: t.TempDir(), Ports: ports, Only: stores})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Stop(nil) })
	return s
}

func processOf(t *testing.T, s *stack.Stack, name string) stack.Process {
	t.Helper()
	for _, p := range s.Processes {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("the stack runs no %s", name)
	return stack.Process{}
}

func post(t *testing.T, url, contentType, body string) {
	t.Helper()
	resp, err := http.Post(url, contentType, strings.NewReader(body)) // #nosec G107 -- a loopback store of the test's own stack
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, url)
}

// sendSessionTo writes a tiny session to a stack: an app client span and the
// backend span it caused in Jaeger (OTLP/HTTP JSON), and a backend log
// record of that trace in VictoriaLogs (JSON lines), made searchable.
func sendSessionTo(t *testing.T, s *stack.Stack) (sessionID, traceID, serverSpanID string) {
	t.Helper()
	sessionID, traceID = randomHex(t, 16), randomHex(t, 16)
	client, server := randomHex(t, 8), randomHex(t, 8)
	now := time.Now()
	ns := now.UnixNano()
	post(t, s.JaegerOTLPHTTPURL()+"/v1/traces", "application/json", fmt.Sprintf(`{"resourceSpans":[
{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"dying-store-app"}},{"key":"service.version","value":{"stringValue":"1.0.0"}},{"key":"device.model.identifier","value":{"stringValue":"iPhone15,2"}},{"key":"os.name","value":{"stringValue":"iOS"}}]},
 "scopeSpans":[{"spans":[{"traceId":"%[1]s","spanId":"%[2]s","name":"GET","kind":3,"startTimeUnixNano":"%[4]d","endTimeUnixNano":"%[5]d",
   "attributes":[{"key":"session.id","value":{"stringValue":"%[6]s"}},{"key":"url.template","value":{"stringValue":"/items/{id}"}},{"key":"server.address","value":{"stringValue":"api.dying-store.example"}}]}]}]},
{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"dying-store-backend"}}]},
 "scopeSpans":[{"spans":[{"traceId":"%[1]s","spanId":"%[3]s","parentSpanId":"%[2]s","name":"GET /items/{id}","kind":2,"startTimeUnixNano":"%[7]d","endTimeUnixNano":"%[8]d",
   "attributes":[{"key":"session.id","value":{"stringValue":"%[6]s"}}]}]}]}]}`,
		traceID, client, server, ns, ns+int64(50*time.Millisecond), sessionID, ns+int64(10*time.Millisecond), ns+int64(40*time.Millisecond)))
	sendLogTo(t, s, sessionID, traceID, server, now.Add(20*time.Millisecond))
	return sessionID, traceID, server
}

// sendLogTo writes a backend log record of a session's trace to a stack's
// VictoriaLogs (JSON lines) and makes it searchable at once.
func sendLogTo(t *testing.T, s *stack.Stack, sessionID, traceID, spanID string, at time.Time) {
	t.Helper()
	post(t, s.VictoriaLogsURL()+"/insert/jsonline?_stream_fields=service.name&_time_field=_time&_msg_field=_msg", "application/stream+json",
		fmt.Sprintf(`{"_time":%q,"_msg":"item loaded","service.name":"dying-store-backend","severity_text":"INFO","trace_id":%q,"span_id":%q,"session.id":%q}`+"\n",
			at.UTC().Format(time.RFC3339Nano), traceID, spanID, sessionID))
	resp, err := http.Get(s.VictoriaLogsURL() + "/internal/force_flush")
	require.NoError(t, err)
	resp.Body.Close()
}

// storeNotices lists the notices a store wrote, from every frame's meta.
func storeNotices(fs data.Frames) []string {
	var out []string
	for _, f := range fs {
		if f.Meta == nil {
			continue
		}
		for _, n := range f.Meta.Notices {
			if n.Severity == data.NoticeSeverityWarning {
				out = append(out, n.Text)
			}
		}
	}
	return out
}

// TestAStoreDyingMidQuery: VictoriaLogs dies (SIGKILL, by the PID its
// private stack recorded) while a sessionTimeline, a sessions and a
// propagationHealth query wait on it over gRPC. Each answers promptly —
// within the log store's timeout + 1 s — with the trace store's frames and,
// where the logs were needed, a notice naming the dead store. After
// Stack.Restart, the same instance's next queries succeed with no notice:
// no connection to the dead process is reused.
//
// To be sure the queries are in flight when it dies, the store is first
// frozen (SIGSTOP: connections are accepted, nothing answers), then killed.
// Jaeger keeps traces in memory, so the store that dies is VictoriaLogs,
// whose data survives on disk.
func TestAStoreDyingMidQuery(t *testing.T) {
	s := privateStack(t, "jaeger", "victorialogs")
	vl := processOf(t, s, "victorialogs")
	t.Cleanup(func() { _ = syscall.Kill(vl.PID, syscall.SIGCONT) }) // never leave it frozen
	sessionID, traceID, serverSpan := sendSessionTo(t, s)

	const logsTimeout = 3 * time.Second
	inst := newInstance(t, map[string]any{
		"traces": storeJSON("jaeger", s.JaegerURL()),
		"logs":   map[string]any{"kind": "victorialogs", "url": s.VictoriaLogsURL(), "timeoutSeconds": int(logsTimeout / time.Second)},
	}, nil)
	from, to := time.Now().Add(-time.Hour), time.Now().Add(time.Minute)
	queries := func() []backend.DataQuery {
		var qs []backend.DataQuery
		for ref, model := range map[string]map[string]any{
			"timeline":    {"queryType": "sessionTimeline", "sessionId": sessionID},
			"sessions":    {"queryType": "sessions"},
			"propagation": {"queryType": "propagationHealth"},
		} {
			q, err := pluginharness.Query(ref, model, from, to)
			require.NoError(t, err)
			qs = append(qs, q)
		}
		return qs
	}
	// timelineComplete: the session's spans and its log lines.
	timelineComplete := func(r backend.DataResponse) bool {
		wf, logs := frameByName(r.Frames, "waterfall"), frameByName(r.Frames, "logs")
		return r.Error == nil && wf != nil && wf.Rows() == 3 && logs != nil && logs.Rows() >= 1
	}
	require.Eventually(t, func() bool {
		res, err := grafana.QueryData(testContext(t), inst, queries()...)
		return err == nil && timelineComplete(res.Responses["timeline"])
	}, 20*time.Second, 250*time.Millisecond, "the session arrives in both stores")

	// Freeze, send the queries, kill while they wait.
	require.NoError(t, syscall.Kill(vl.PID, syscall.SIGSTOP))
	type answer struct {
		res *backend.QueryDataResponse
		err error
		at  time.Time
	}
	done := make(chan answer, 1)
	sent := time.Now()
	go func() {
		res, err := grafana.QueryData(context.Background(), inst, queries()...)
		done <- answer{res, err, time.Now()}
	}()
	select {
	case a := <-done:
		t.Fatalf("answered in %s while the log store was frozen: %v", a.at.Sub(sent), a.err)
	case <-time.After(500 * time.Millisecond):
	}
	killed := time.Now()
	require.NoError(t, syscall.Kill(vl.PID, syscall.SIGKILL))
	var a answer
	select {
	case a = <-done:
	case <-time.After(logsTimeout + 5*time.Second):
		t.Fatal("no answer after the log store died")
	}
	require.NoError(t, a.err)
	t.Logf("STORE DEATH: queries sent %s before the kill, answered %s after it (%s in all; log store timeout %s)",
		killed.Sub(sent).Round(time.Millisecond), a.at.Sub(killed).Round(time.Millisecond), a.at.Sub(sent).Round(time.Millisecond), logsTimeout)
	assert.Less(t, a.at.Sub(sent), logsTimeout+time.Second, "answered within the store timeout + 1 s")

	dead := fmt.Sprintf("victorialogs at 127.0.0.1:%d", s.Ports.VictoriaLogs)
	tlr := a.res.Responses["timeline"]
	require.NoError(t, tlr.Error)
	wf := frameByName(tlr.Frames, "waterfall")
	require.NotNil(t, wf, "the trace store's frames")
	assert.Equal(t, 3, wf.Rows(), "session root + client span + server span")
	tlNotices := strings.Join(storeNotices(tlr.Frames), "\n")
	assert.Contains(t, tlNotices, "log search failed")
	assert.Contains(t, tlNotices, dead, "the notice names the dead store")
	t.Logf("timeline notice: %s", tlNotices)

	// The log store is the sessions list's index: without it there is no
	// list, and the error is the store's, named.
	sr := a.res.Responses["sessions"]
	require.Error(t, sr.Error)
	assert.Contains(t, sr.Error.Error(), dead)
	assert.Equal(t, backend.ErrorSourceDownstream, sr.ErrorSource)

	pr := a.res.Responses["propagation"]
	require.NoError(t, pr.Error)
	require.NotNil(t, frameByName(pr.Frames, "propagationByHost"), "the trace store's audit")
	prNotices := strings.Join(storeNotices(pr.Frames), "\n")
	assert.Contains(t, prNotices, "log coverage unavailable")
	assert.Contains(t, prNotices, dead)

	// Back again: the next queries of the same instance succeed, no notice.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	restartAt := time.Now()
	var out bytes.Buffer
	require.NoError(t, s.Restart(ctx, "victorialogs", &out), out.String())
	require.NotEqual(t, vl.PID, processOf(t, s, "victorialogs").PID)
	vl = processOf(t, s, "victorialogs")
	t.Logf("victorialogs restarted as pid %d in %s", vl.PID, time.Since(restartAt).Round(time.Millisecond))
	res, err := grafana.QueryData(testContext(t), inst, queries()...)
	require.NoError(t, err)
	for ref, r := range res.Responses {
		require.NoError(t, r.Error, ref)
		assert.Empty(t, storeNotices(r.Frames), "%s: no notice once the store is back", ref)
	}
	if wf := frameByName(res.Responses["timeline"].Frames, "waterfall"); assert.NotNil(t, wf) {
		assert.Equal(t, 3, wf.Rows(), "the session's spans")
	}
	// The restarted store takes new records and serves them. (What it held
	// only in memory — it writes to disk every few seconds — died with it.)
	sendLogTo(t, s, sessionID, traceID, serverSpan, time.Now())
	require.Eventually(t, func() bool {
		res, err := grafana.QueryData(testContext(t), inst, queries()...)
		return err == nil && timelineComplete(res.Responses["timeline"]) && len(storeNotices(res.Responses["timeline"].Frames)) == 0
	}, 15*time.Second, 250*time.Millisecond, "the timeline has log lines again")
	found := false
	if tl := frameByName(res.Responses["timeline"].Frames, "timeline"); tl != nil {
		ids := column(t, tl, "traceId")
		for i := 0; i < tl.Rows(); i++ {
			found = found || ids.At(i) == traceID
		}
	}
	assert.True(t, found, "the session's trace")
}
