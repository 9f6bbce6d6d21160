package scaleworld

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/stitch-observability/stitch/internal/demoworld"
)

// Arrival: polling the stores until everything a run sent is queryable.

// DefaultArrivalWait bounds WaitArrived when ctx has no deadline.
const DefaultArrivalWait = 3 * time.Minute

// Check is one line of an arrival report.
type Check struct {
	Store string `json:"store"`
	What  string `json:"what"`
	Want  int    `json:"want"`
	Got   int    `json:"got"`
	OK    bool   `json:"ok"`
}

// Arrival is WaitArrived's report.
type Arrival struct {
	Checks []Check       `json:"checks"`
	Polls  int           `json:"polls"`
	Waited time.Duration `json:"waited"`
	OK     bool          `json:"ok"`
}

// Print writes the report as a table.
func (a Arrival) Print(out io.Writer) {
	fmt.Fprintf(out, "arrival (%d polls, %s):\n", a.Polls, a.Waited.Round(time.Millisecond))
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  store\tcheck\twant\tgot\t")
	for _, c := range a.Checks {
		v := "ok"
		if !c.OK {
			v = "MISSING"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%d\t%s\n", c.Store, c.What, c.Want, c.Got, v)
	}
	tw.Flush()
}

// WaitArrived polls the stores once a second until the world is queryable
// (see WaitArrivedTruth).
func WaitArrived(ctx context.Context, w *World, targets demoworld.Targets) (Arrival, error) {
	return WaitArrivedTruth(ctx, w.Truth(), targets)
}

// WaitArrivedTruth polls the stores once a second until everything of the
// run t describes is queryable, or ctx ends (DefaultArrivalWait when it has
// no deadline):
//
//   - VictoriaLogs: the app's session.start records of the run number the
//     sessions, and each service's log records of the run number the plan's;
//   - Jaeger: the app and every backend service with traces are listed, and
//     a sample of sessions (first, middle, last) has all its traces, each
//     with all its spans;
//   - Prometheus: at the window's end the run's request histogram series
//     (instance = run ID) number the plan's and their counts add up to one
//     observation per client and server span; every service with series
//     has exemplars.
func WaitArrivedTruth(ctx context.Context, t *Truth, targets demoworld.Targets) (Arrival, error) {
	targets, err := checkTargets(targets, true)
	if err != nil {
		return Arrival{}, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultArrivalWait)
		defer cancel()
	}
	p := &poller{t: t, targets: targets, client: &http.Client{Timeout: 60 * time.Second}}
	start := time.Now()
	var a Arrival
	var lastErr error
	for {
		a.Polls++
		checks, err := p.poll(ctx)
		if err == nil {
			a.Checks = checks
			a.OK = !slices.ContainsFunc(checks, func(c Check) bool { return !c.OK })
			if a.OK {
				break
			}
		} else {
			lastErr = err
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
			continue
		}
		break
	}
	a.Waited = time.Since(start)
	if !a.OK {
		if a.Checks == nil {
			return a, fmt.Errorf("scaleworld: could not read the stores: %w", lastErr)
		}
		var missing []string
		for _, c := range a.Checks {
			if !c.OK {
				missing = append(missing, fmt.Sprintf("%s %s: want %d, got %d", c.Store, c.What, c.Want, c.Got))
			}
		}
		return a, fmt.Errorf("scaleworld: run %s did not arrive within %s: %s", t.RunID, a.Waited.Round(time.Second), strings.Join(missing, "; "))
	}
	return a, nil
}

type poller struct {
	t       *Truth
	targets demoworld.Targets
	client  *http.Client
}

func (p *poller) poll(ctx context.Context) ([]Check, error) {
	var checks []Check
	for _, f := range []func(context.Context) ([]Check, error){p.victoriaLogs, p.jaeger, p.prometheus} {
		c, err := f(ctx)
		if err != nil {
			return nil, err
		}
		checks = append(checks, c...)
	}
	return checks, nil
}

func check(store, what string, want, got int) Check {
	return Check{Store: store, What: what, Want: want, Got: got, OK: want == got}
}

func (p *poller) get(ctx context.Context, u string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		return nil, fmt.Errorf("GET %s: %s: %s", req.URL.Path, resp.Status, strings.TrimSpace(string(b)))
	}
	return resp, nil
}

func (p *poller) getJSON(ctx context.Context, u string, v any) error {
	resp, err := p.get(ctx, u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}

// ---------------------------------------------------------------- VictoriaLogs

// LogsQLRun is the LogsQL filter of one run's records of one service.
func LogsQLRun(service, runID string) string {
	return "service.name:=" + strconv.Quote(service) + " " + attrServiceInstanceID + ":=" + strconv.Quote(runID)
}

func (p *poller) logsQL(ctx context.Context, query string) ([]map[string]string, error) {
	q := url.Values{
		"query": {query},
		"start": {p.t.WindowStart.Add(-time.Minute).Format(time.RFC3339Nano)},
		"end":   {p.t.WindowEnd.Add(time.Minute).Format(time.RFC3339Nano)},
	}
	resp, err := p.get(ctx, p.targets.VictoriaLogs+"/select/logsql/query?"+q.Encode())
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out []map[string]string
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if len(strings.TrimSpace(sc.Text())) == 0 {
			continue
		}
		m := map[string]string{}
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, sc.Err()
}

func (p *poller) victoriaLogs(ctx context.Context) ([]Check, error) {
	t := p.t
	rows, err := p.logsQL(ctx, LogsQLRun(t.App, t.RunID)+` _msg:="session.start" | stats count() n`)
	if err != nil {
		return nil, fmt.Errorf("victorialogs: %w", err)
	}
	starts := 0
	if len(rows) > 0 {
		starts, _ = strconv.Atoi(rows[0]["n"])
	}
	checks := []Check{check("victorialogs", "session.start records of "+t.App, t.Expect.SessionStarts, starts)}
	rows, err = p.logsQL(ctx, attrServiceInstanceID+":="+strconv.Quote(t.RunID)+` | stats by (service.name) count() n`)
	if err != nil {
		return nil, fmt.Errorf("victorialogs: %w", err)
	}
	got := map[string]int{}
	for _, r := range rows {
		got[r["service.name"]], _ = strconv.Atoi(r["n"])
	}
	for _, svc := range append([]string{t.App}, t.Services...) {
		if want := t.Expect.Logs[svc]; want > 0 || got[svc] > 0 {
			checks = append(checks, check("victorialogs", "log records of "+svc, want, got[svc]))
		}
	}
	return checks, nil
}

// ---------------------------------------------------------------- Jaeger

func (p *poller) jaeger(ctx context.Context) ([]Check, error) {
	t := p.t
	var services struct {
		Data []string `json:"data"`
	}
	if err := p.getJSON(ctx, p.targets.JaegerQuery+"/api/services", &services); err != nil {
		return nil, fmt.Errorf("jaeger: %w", err)
	}
	want, got := 0, 0
	for _, svc := range append([]string{t.App}, t.Services...) {
		if t.Expect.Spans[svc] == 0 {
			continue
		}
		want++
		if slices.Contains(services.Data, svc) {
			got++
		}
	}
	checks := []Check{check("jaeger", "services of the world listed", want, got)}
	if len(t.Sessions) == 0 {
		return checks, nil
	}
	idx := []int{0, len(t.Sessions) / 2, len(t.Sessions) - 1}
	wantTraces, gotTraces, wantSpans, gotSpans := 0, 0, 0, 0
	for _, i := range slices.Compact(idx) {
		s := t.Sessions[i]
		traces, spans, err := p.sessionTraces(ctx, s)
		if err != nil {
			return nil, fmt.Errorf("jaeger: %w", err)
		}
		wantTraces += len(s.Requests)
		gotTraces += traces
		for _, r := range s.Requests {
			wantSpans++
			if r.ServerSpanID != "" {
				wantSpans += 1 + r.Children
			}
		}
		gotSpans += spans
	}
	checks = append(checks,
		check("jaeger", "traces of sampled sessions (first, middle, last)", wantTraces, gotTraces),
		check("jaeger", "spans of those traces", wantSpans, gotSpans))
	return checks, nil
}

// sessionTraces counts the traces Jaeger finds for a session (by the app
// service and session.id) and their spans.
func (p *poller) sessionTraces(ctx context.Context, s SessionTruth) (traces, spans int, err error) {
	tags, _ := json.Marshal(map[string]string{"session.id": s.ID})
	q := url.Values{
		"service": {p.t.App}, "tags": {string(tags)}, "limit": {"100"},
		"start": {strconv.FormatInt(s.Start.Add(-time.Minute).UnixMicro(), 10)},
		"end":   {strconv.FormatInt(s.End.Add(time.Minute).UnixMicro(), 10)},
	}
	var resp struct {
		Data []struct {
			TraceID string            `json:"traceID"`
			Spans   []json.RawMessage `json:"spans"`
		} `json:"data"`
	}
	if err := p.getJSON(ctx, p.targets.JaegerQuery+"/api/traces?"+q.Encode(), &resp); err != nil {
		return 0, 0, err
	}
	known := map[string]bool{}
	for _, r := range s.Requests {
		known[r.TraceID] = true
	}
	for _, tr := range resp.Data {
		if known[tr.TraceID] {
			traces++
			spans += len(tr.Spans)
		}
	}
	return traces, spans, nil
}

// ---------------------------------------------------------------- Prometheus

type promSample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

func (p *poller) instant(ctx context.Context, query string, at time.Time) ([]promSample, error) {
	q := url.Values{"query": {query}, "time": {strconv.FormatFloat(float64(at.UnixMilli())/1000, 'f', 3, 64)}}
	var resp struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []promSample `json:"result"`
		} `json:"data"`
	}
	if err := p.getJSON(ctx, p.targets.Prometheus+"/api/v1/query?"+q.Encode(), &resp); err != nil {
		return nil, err
	}
	if resp.Status != "success" {
		return nil, errors.New(resp.Error)
	}
	return resp.Data.Result, nil
}

func sampleInt(s promSample) int {
	str, _ := s.Value[1].(string)
	f, _ := strconv.ParseFloat(str, 64)
	return int(f + 0.5)
}

// RunSelector is the PromQL label matcher of one run's series.
func RunSelector(runID string) string { return `{instance=` + strconv.Quote(runID) + `}` }

func (p *poller) prometheus(ctx context.Context) ([]Check, error) {
	t := p.t
	sel := RunSelector(t.RunID)
	res, err := p.instant(ctx, `count by (job) (`+t.Metric+`_count`+sel+`)`, t.WindowEnd)
	if err != nil {
		return nil, fmt.Errorf("prometheus: %w", err)
	}
	series := 0
	jobs := map[string]bool{}
	for _, s := range res {
		series += sampleInt(s)
		jobs[s.Metric["job"]] = true
	}
	res, err = p.instant(ctx, `sum(`+t.Metric+`_count`+sel+`)`, t.WindowEnd)
	if err != nil {
		return nil, fmt.Errorf("prometheus: %w", err)
	}
	obs := 0
	if len(res) > 0 {
		obs = sampleInt(res[0])
	}
	checks := []Check{
		check("prometheus", "request histogram series of the run", t.Expect.HistogramSeries, series),
		check("prometheus", "observations counted at the window's end", t.Expect.Observations, obs),
	}
	q := url.Values{
		"query": {t.Metric + "_bucket" + sel},
		"start": {strconv.FormatInt(t.WindowStart.Unix(), 10)},
		"end":   {strconv.FormatInt(t.WindowEnd.Unix()+1, 10)},
	}
	var ex struct {
		Data []struct {
			SeriesLabels map[string]string `json:"seriesLabels"`
			Exemplars    []json.RawMessage `json:"exemplars"`
		} `json:"data"`
	}
	if err := p.getJSON(ctx, p.targets.Prometheus+"/api/v1/query_exemplars?"+q.Encode(), &ex); err != nil {
		return nil, fmt.Errorf("prometheus: %w", err)
	}
	withEx := map[string]bool{}
	for _, s := range ex.Data {
		if len(s.Exemplars) > 0 {
			withEx[s.SeriesLabels["job"]] = true
		}
	}
	got := 0
	for j := range jobs {
		if withEx[j] {
			got++
		}
	}
	checks = append(checks, check("prometheus", "services whose histograms have exemplars", max(len(jobs), 1), got))
	return checks, nil
}
