package demoworld

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
)

// Proof of arrival: what each store holds for one run, read back through
// the store's own HTTP API, against what the ground truth says it must hold.

// Arrival is the result of ProveArrival.
type Arrival struct {
	RunID  string         `json:"run_id"`
	Checks []ArrivalCheck `json:"checks"`
	Polls  int            `json:"polls"`
	Waited time.Duration  `json:"waited"`
	OK     bool           `json:"ok"`
}

// ArrivalCheck is one line of the proof.
type ArrivalCheck struct {
	Store string `json:"store"`
	What  string `json:"what"`
	Want  int    `json:"want"`
	Got   int    `json:"got"`
	// AtLeast: the check passes when Got >= Want.
	AtLeast bool   `json:"at_least,omitempty"`
	OK      bool   `json:"ok"`
	Note    string `json:"note,omitempty"`
}

// Failed lists the checks that did not pass.
func (a Arrival) Failed() []ArrivalCheck {
	var out []ArrivalCheck
	for _, c := range a.Checks {
		if !c.OK {
			out = append(out, c)
		}
	}
	return out
}

// DefaultArrivalWait bounds ProveArrival's polling when ctx has no deadline.
const DefaultArrivalWait = 60 * time.Second

// ProveArrival reads back what Jaeger, VictoriaLogs and Prometheus hold for
// gt's run (selected by the run tag) and compares it with the ground truth:
// span counts per service, log records per service, RED request counts and
// exemplars per service, plus joins (backend spans and log records carry the
// request's session.id and trace ID; the stripping host's traces carry no
// session; sampled-out requests left nothing on the backends; device spans
// carry their device's clock offset). Stores need a moment after ingestion,
// so it polls once a second until everything matches or the wait (ctx's
// deadline, else DefaultArrivalWait) runs out, then prints a table to out.
// It returns an error when a check still fails.
func ProveArrival(ctx context.Context, gt *GroundTruth, targets Targets, out io.Writer) (Arrival, error) {
	if out == nil {
		out = io.Discard
	}
	if gt == nil || gt.Run == nil || gt.Run.ID == "" {
		return Arrival{}, errors.New("demoworld: the ground truth has no run (was it returned by Run?)")
	}
	targets, err := targets.normalized(true)
	if err != nil {
		return Arrival{}, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultArrivalWait)
		defer cancel()
	}
	p := &prover{gt: gt, t: targets, client: &http.Client{Timeout: 30 * time.Second}}
	start := time.Now()
	arr := Arrival{RunID: gt.Run.ID}
	for {
		arr.Polls++
		checks, err := p.poll(ctx)
		if err == nil {
			arr.Checks = checks
			arr.OK = len(checks) > 0 && !slices.ContainsFunc(checks, func(c ArrivalCheck) bool { return !c.OK })
			if arr.OK {
				break
			}
		} else if ctx.Err() == nil {
			fmt.Fprintf(out, "arrival: poll %d: %v\n", arr.Polls, err)
		}
		if sleep(ctx, time.Second) != nil {
			break
		}
	}
	arr.Waited = time.Since(start)
	printArrival(out, arr)
	if !arr.OK {
		if arr.Checks == nil {
			return arr, fmt.Errorf("demoworld: could not read the stores for run %s within %s", gt.Run.ID, arr.Waited.Round(time.Millisecond))
		}
		return arr, fmt.Errorf("demoworld: run %s: %d of %d arrival checks failed", gt.Run.ID, len(arr.Failed()), len(arr.Checks))
	}
	return arr, nil
}

func printArrival(out io.Writer, a Arrival) {
	fmt.Fprintf(out, "arrival of run %s (%d polls, %s):\n", a.RunID, a.Polls, a.Waited.Round(time.Millisecond))
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  store\tcheck\twant\tgot\t")
	for _, c := range a.Checks {
		want := strconv.Itoa(c.Want)
		if c.AtLeast {
			want = ">=" + want
		}
		verdict := "ok"
		if !c.OK {
			verdict = "MISMATCH"
		}
		if c.Note != "" {
			verdict += " (" + c.Note + ")"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%s\n", c.Store, c.What, want, c.Got, verdict)
	}
	tw.Flush()
}

type prover struct {
	gt     *GroundTruth
	t      Targets
	client *http.Client
}

func check(store, what string, want, got int, atLeast bool) ArrivalCheck {
	ok := got == want
	if atLeast {
		ok = got >= want
	}
	return ArrivalCheck{Store: store, What: what, Want: want, Got: got, AtLeast: atLeast, OK: ok}
}

func (p *prover) window() (time.Time, time.Time) {
	// Device clocks may be minutes off.
	return p.gt.Run.Started.Add(-10 * time.Minute), p.gt.Run.Finished.Add(10 * time.Minute)
}

func (p *prover) poll(ctx context.Context) ([]ArrivalCheck, error) {
	var checks []ArrivalCheck
	j, err := p.jaeger(ctx)
	if err != nil {
		return nil, fmt.Errorf("jaeger: %w", err)
	}
	checks = append(checks, j...)
	v, err := p.victoriaLogs(ctx)
	if err != nil {
		return nil, fmt.Errorf("victorialogs: %w", err)
	}
	checks = append(checks, v...)
	m, err := p.prometheus(ctx)
	if err != nil {
		return nil, fmt.Errorf("prometheus: %w", err)
	}
	checks = append(checks, m...)
	warnings := len(p.gt.Run.Warnings)
	c := check("run", "places where the run left its plan", 0, warnings, false)
	if warnings > 0 {
		c.Note = "see run.warnings in the ground truth"
	}
	return append(checks, c), nil
}

func (p *prover) getJSON(ctx context.Context, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s: %s: %s", req.URL.Path, resp.Status, strings.TrimSpace(string(b)))
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// ---------------------------------------------------------------- Jaeger

type jaegerTag struct {
	Key   string `json:"key"`
	Value any    `json:"value"`
}

type jaegerSpan struct {
	TraceID    string      `json:"traceID"`
	SpanID     string      `json:"spanID"`
	StartTime  int64       `json:"startTime"` // µs
	Tags       []jaegerTag `json:"tags"`
	ProcessID  string      `json:"processID"`
	References []struct {
		RefType string `json:"refType"`
		SpanID  string `json:"spanID"`
	} `json:"references"`
}

type jaegerTrace struct {
	TraceID   string       `json:"traceID"`
	Spans     []jaegerSpan `json:"spans"`
	Processes map[string]struct {
		ServiceName string      `json:"serviceName"`
		Tags        []jaegerTag `json:"tags"`
	} `json:"processes"`
}

func tagValue(tags []jaegerTag, key string) (string, bool) {
	for _, t := range tags {
		if t.Key == key {
			return fmt.Sprint(t.Value), true
		}
	}
	return "", false
}

// runSpan is a span of this run, with its service.
type runSpan struct {
	jaegerSpan
	service string
}

func (p *prover) jaegerSearch(ctx context.Context, service string) ([]jaegerTrace, error) {
	from, to := p.window()
	tags, _ := json.Marshal(map[string]string{TagRunID: p.gt.Run.ID})
	q := url.Values{
		"service": {service}, "tags": {string(tags)}, "limit": {"20000"},
		"start": {strconv.FormatInt(from.UnixMicro(), 10)}, "end": {strconv.FormatInt(to.UnixMicro(), 10)},
	}
	var resp struct {
		Data   []jaegerTrace `json:"data"`
		Errors []struct {
			Msg string `json:"msg"`
		} `json:"errors"`
	}
	if err := p.getJSON(ctx, p.t.JaegerQuery+"/api/traces?"+q.Encode(), &resp); err != nil {
		return nil, err
	}
	if len(resp.Errors) > 0 {
		return nil, errors.New(resp.Errors[0].Msg)
	}
	return resp.Data, nil
}

func (p *prover) jaeger(ctx context.Context) ([]ArrivalCheck, error) {
	gt := p.gt
	// Every span of this run, by trace.
	traces := map[string][]runSpan{}
	seen := map[string]bool{}
	services := []string{gt.App.ServiceName}
	services = append(services, backendServices...)
	for _, svc := range services {
		data, err := p.jaegerSearch(ctx, svc)
		if err != nil {
			return nil, err
		}
		for _, tr := range data {
			if seen[tr.TraceID] {
				continue
			}
			seen[tr.TraceID] = true
			for _, s := range tr.Spans {
				proc := tr.Processes[s.ProcessID]
				if id, _ := tagValue(proc.Tags, TagRunID); id != gt.Run.ID {
					continue // another run whose IDs collide (same seed)
				}
				traces[s.TraceID] = append(traces[s.TraceID], runSpan{s, proc.ServiceName})
			}
		}
	}
	perService := map[string]int{}
	byID := map[string]runSpan{}
	for _, spans := range traces {
		for _, s := range spans {
			perService[s.service]++
			byID[s.TraceID+"/"+s.SpanID] = s
		}
	}
	var checks []ArrivalCheck
	for _, svc := range services {
		checks = append(checks, check("jaeger", "spans of "+svc, gt.Expect.JaegerSpans[svc], perService[svc], false))
	}

	// Device spans with exactly the planned IDs.
	wantDev, gotDev := 0, 0
	for _, a := range gt.Actions {
		if a.Exported {
			wantDev++
			if s, ok := byID[a.TraceID+"/"+a.SpanID]; ok && s.service == gt.App.ServiceName {
				gotDev++
			}
		}
	}
	for _, r := range gt.Requests {
		for _, at := range r.Attempts {
			if at.Exported {
				wantDev++
				if s, ok := byID[r.TraceID+"/"+at.ClientSpanID]; ok && s.service == gt.App.ServiceName {
					gotDev++
				}
			}
		}
	}
	checks = append(checks, check("jaeger", "device spans with the planned trace and span IDs", wantDev, gotDev, false))

	// Joins.
	isBackend := func(s runSpan) bool { return s.service != gt.App.ServiceName }
	propagated := map[string]string{} // backend trace → session
	var stripped, sampledOut []string
	for _, r := range gt.Requests {
		for _, at := range r.Attempts {
			switch at.Propagation {
			case PropagationPropagated:
				propagated[at.BackendTraceID] = r.SessionID
			case PropagationStripped:
				stripped = append(stripped, at.BackendTraceID)
			case PropagationSampledOut:
				sampledOut = append(sampledOut, r.TraceID)
			}
		}
	}
	okTraces := 0
	for traceID, session := range propagated {
		spans := traces[traceID]
		n, good := 0, true
		for _, s := range spans {
			if isBackend(s) {
				n++
				if v, _ := tagValue(s.Tags, "session.id"); v != session {
					good = false
				}
			}
		}
		if n > 0 && good {
			okTraces++
		}
	}
	checks = append(checks, check("jaeger", "propagated traces whose backend spans all carry the session.id", len(propagated), okTraces, false))

	okStripped := 0
	for _, traceID := range stripped {
		spans := traces[traceID]
		good := len(spans) > 0
		for _, s := range spans {
			if _, has := tagValue(s.Tags, "session.id"); has || s.service != svcLegacy {
				good = false
			}
		}
		if good {
			okStripped++
		}
	}
	checks = append(checks, check("jaeger", "stripping host's own traces, without session.id", len(stripped), okStripped, false))

	clean := 0
	for _, traceID := range sampledOut {
		if !slices.ContainsFunc(traces[traceID], isBackend) {
			clean++
		}
	}
	checks = append(checks, check("jaeger", "sampled-out requests with no backend span", len(sampledOut), clean, false))

	// Clock skew: a skewed device's client span starts about its offset
	// away from the gateway's server span for the same attempt.
	offsets := map[string]int64{}
	for _, d := range gt.Devices {
		if abs(d.ClockTrueOffsetMs) >= 5_000 {
			offsets[d.Name] = d.ClockTrueOffsetMs
		}
	}
	wantSkew, gotSkew := 0, 0
	for _, r := range gt.Requests {
		off, skewed := offsets[r.Device]
		if !skewed || r.ServerAddress != (naming{variant: gt.App.Variant}).host(hostAPI) {
			continue
		}
		for _, at := range r.Attempts {
			if at.Propagation != PropagationPropagated || !at.Exported {
				continue
			}
			client, ok := byID[r.TraceID+"/"+at.ClientSpanID]
			if !ok {
				continue
			}
			wantSkew++
			for _, s := range traces[r.TraceID] {
				if s.service == svcGateway && len(s.References) > 0 && s.References[0].SpanID == at.ClientSpanID {
					diffMs := (client.StartTime - s.StartTime) / 1000
					if abs(diffMs-off) < 1000 {
						gotSkew++
					}
					break
				}
			}
		}
	}
	checks = append(checks, check("jaeger", "skewed devices' client spans offset by their true clock offset", wantSkew, gotSkew, false))
	return checks, nil
}

// ---------------------------------------------------------------- VictoriaLogs

func (p *prover) logsQL(ctx context.Context, query string) ([]map[string]string, error) {
	from, to := p.window()
	form := url.Values{"query": {query}, "start": {from.UTC().Format(time.RFC3339Nano)}, "end": {to.UTC().Format(time.RFC3339Nano)}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.t.VictoriaLogs+"/select/logsql/query", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	var rows []map[string]string
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		if len(strings.TrimSpace(sc.Text())) == 0 {
			continue
		}
		var row map[string]string
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			return nil, err
		}
		rows = append(rows, row)
	}
	return rows, sc.Err()
}

func (p *prover) victoriaLogs(ctx context.Context) ([]ArrivalCheck, error) {
	gt := p.gt
	run := TagRunID + `:=` + strconv.Quote(gt.Run.ID)
	rows, err := p.logsQL(ctx, run+` | stats by (service.name) count() n`)
	if err != nil {
		return nil, err
	}
	got := map[string]int{}
	for _, r := range rows {
		n, _ := strconv.Atoi(r["n"])
		got[r["service.name"]] = n
	}
	var checks []ArrivalCheck
	services := append([]string{gt.App.ServiceName}, backendServices...)
	for _, svc := range services {
		checks = append(checks, check("victorialogs", "log records of "+svc, gt.Expect.VictoriaLogsRecords[svc], got[svc], false))
	}

	// Backend records per (trace_id, session.id) exactly as planned.
	quoted := make([]string, len(backendServices))
	for i, s := range backendServices {
		quoted[i] = strconv.Quote(s)
	}
	rows, err = p.logsQL(ctx, run+` service.name:in(`+strings.Join(quoted, ",")+`) | stats by (trace_id, session.id) count() n`)
	if err != nil {
		return nil, err
	}
	want := map[string]int{}
	for _, l := range gt.BackendLogs {
		want[l.TraceID+"/"+l.SessionID]++
	}
	matched, extra := 0, 0
	for _, r := range rows {
		n, _ := strconv.Atoi(r["n"])
		k := r["trace_id"] + "/" + r["session.id"]
		if w, ok := want[k]; ok && w == n {
			matched++
		} else {
			extra++
		}
	}
	c := check("victorialogs", "backend (trace_id, session.id) pairs with the planned record count", len(want), matched, false)
	if extra > 0 {
		c.OK, c.Note = false, strconv.Itoa(extra)+" unexpected pairs"
	}
	checks = append(checks, c)

	// Sampled-out sessions: the backends wrote nothing for them (through
	// the collector: only their error records).
	if ids := gt.Faults.SampledOut.Sessions; len(ids) > 0 {
		out := map[string]bool{}
		for _, id := range ids {
			out[id] = true
		}
		want := 0
		for _, l := range gt.BackendLogs {
			if out[l.SessionID] {
				want++
			}
		}
		q := make([]string, len(ids))
		for i, id := range ids {
			q[i] = strconv.Quote(id)
		}
		rows, err = p.logsQL(ctx, run+` session.id:in(`+strings.Join(q, ",")+`) service.name:in(`+strings.Join(quoted, ",")+`) | stats count() n`)
		if err != nil {
			return nil, err
		}
		n := 0
		if len(rows) > 0 {
			n, _ = strconv.Atoi(rows[0]["n"])
		}
		checks = append(checks, check("victorialogs", "backend records of sampled-out sessions", want, n, false))
	}
	return checks, nil
}

// ---------------------------------------------------------------- Prometheus

const durationMetric = "http_server_request_duration_seconds"

// promSample is one sample of an instant vector.
type promSample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

// instantQuery runs a PromQL instant query through Prometheus' HTTP API.
func (p *prover) instantQuery(ctx context.Context, q url.Values) ([]promSample, error) {
	var resp struct {
		Data struct {
			Result []promSample `json:"result"`
		} `json:"data"`
	}
	if err := p.getJSON(ctx, p.t.Prometheus+"/api/v1/query?"+q.Encode(), &resp); err != nil {
		return nil, err
	}
	return resp.Data.Result, nil
}

// sampleInt reads the value of an instant-vector sample.
func sampleInt(v [2]any) int {
	s, _ := v[1].(string)
	f, _ := strconv.ParseFloat(s, 64)
	return int(f)
}

func (p *prover) prometheus(ctx context.Context) ([]ArrivalCheck, error) {
	gt := p.gt
	sel := `{instance=` + strconv.Quote(gt.Run.ID) + `}`
	// Evaluated just after the run so that the proof can be repeated later.
	at := gt.Run.Finished.Add(time.Second)
	q := url.Values{
		"query": {`sum by (job) (last_over_time(` + durationMetric + `_count` + sel + `[10m]))`},
		"time":  {strconv.FormatFloat(float64(at.UnixMilli())/1000, 'f', 3, 64)},
	}
	samples, err := p.instantQuery(ctx, q)
	if err != nil {
		return nil, err
	}
	got := map[string]int{}
	for _, r := range samples {
		got[r.Metric["job"]] = sampleInt(r.Value)
	}
	var checks []ArrivalCheck
	for _, svc := range backendServices {
		checks = append(checks, check("prometheus", "requests counted by "+durationMetric+" for "+svc, gt.Expect.PrometheusRequests[svc], got[svc], false))
	}

	// The RED breakdown: every (job, route, status) series with its count.
	q.Set("query", `sum by (job, http_route, http_response_status_code) (last_over_time(`+durationMetric+`_count`+sel+`[10m]))`)
	series, err := p.instantQuery(ctx, q)
	if err != nil {
		return nil, err
	}
	matched, extra := 0, 0
	for _, r := range series {
		status, _ := strconv.Atoi(r.Metric["http_response_status_code"])
		k := Served{r.Metric["job"], r.Metric["http_route"], status}.Key()
		if want, ok := gt.Expect.PrometheusSeries[k]; ok && want == sampleInt(r.Value) {
			matched++
		} else {
			extra++
		}
	}
	c := check("prometheus", "RED series (job, http_route, status) with the planned count", len(gt.Expect.PrometheusSeries), matched, false)
	if extra > 0 {
		c.OK, c.Note = false, strconv.Itoa(extra)+" unexpected series"
	}
	checks = append(checks, c)

	from, to := p.window()
	eq := url.Values{
		"query": {durationMetric + "_bucket" + sel},
		"start": {strconv.FormatInt(from.Unix(), 10)},
		"end":   {strconv.FormatInt(to.Unix(), 10)},
	}
	var ex struct {
		Data []struct {
			SeriesLabels map[string]string `json:"seriesLabels"`
			Exemplars    []struct {
				Labels map[string]string `json:"labels"`
			} `json:"exemplars"`
		} `json:"data"`
	}
	if err := p.getJSON(ctx, p.t.Prometheus+"/api/v1/query_exemplars?"+eq.Encode(), &ex); err != nil {
		return nil, err
	}
	known := map[string]bool{}
	for _, id := range gt.ExemplarTraceIDs() {
		known[id] = true
	}
	total, good := 0, 0
	perJob := map[string]int{}
	for _, s := range ex.Data {
		for _, e := range s.Exemplars {
			total++
			if known[e.Labels["trace_id"]] {
				good++
				perJob[s.SeriesLabels["job"]]++
			}
		}
	}
	c = check("prometheus", "exemplars whose trace_id is a request trace of the run", total, good, false)
	if total == 0 {
		c.OK, c.Note = false, "no exemplars"
	}
	checks = append(checks, c)
	for _, svc := range gt.Expect.ExemplarServices {
		checks = append(checks, check("prometheus", "exemplars with trace IDs for "+svc, 1, perJob[svc], true))
	}
	if gt.Collector {
		rc, err := p.requestHistograms(ctx)
		if err != nil {
			return nil, err
		}
		checks = append(checks, rc...)
	}
	return checks, nil
}

// RequestHistogram is the collector's request-duration histogram (its
// span-metrics connector) as Prometheus names it.
const RequestHistogram = "stitch_requests_duration_milliseconds"

// requestHistograms checks the collector's request histograms, made from
// spans before sampling: one observation per app client span the devices
// exported, per endpoint, and one per backend server span.
func (p *prover) requestHistograms(ctx context.Context) ([]ArrivalCheck, error) {
	gt := p.gt
	want := gt.Expect.RequestHistograms
	sel := `{instance=` + strconv.Quote(gt.Run.ID) + `}`
	// Evaluated now: the collector flushes its histograms every few
	// seconds, after the run's last span.
	q := url.Values{"query": {`sum by (job, span_kind, http_request_method, url_template) (last_over_time(` + RequestHistogram + `_count` + sel + `[15m]))`}}
	samples, err := p.instantQuery(ctx, q)
	if err != nil {
		return nil, err
	}
	got := map[string]int{}
	for _, r := range samples {
		m := r.Metric
		k := m["job"] + " " + m["span_kind"]
		if m["span_kind"] == "SPAN_KIND_CLIENT" {
			k += " " + m["http_request_method"] + " " + m["url_template"]
		}
		got[k] += sampleInt(r.Value)
	}
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var checks []ArrivalCheck
	for _, k := range keys {
		checks = append(checks, check("prometheus", "collector request histogram count: "+k, want[k], got[k], false))
	}
	return checks, nil
}
