// Package textview renders Stitch's frames as text for the terminal: the
// sessions table and the session waterfall as an indented tree with time
// bars. The demo prints what the plugin returned over gRPC through it.
package textview

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"
)

// SessionsTable renders the first n rows of a sessions frame, sorted by
// errors (most first), then requests.
func SessionsTable(f *data.Frame, n int) string {
	col := func(name string) *data.Field {
		fl, _ := f.FieldByName(name)
		return fl
	}
	type row struct {
		id, app, device, network string
		start                    time.Time
		dur, slowest             float64
		req, errs, backend       int64
	}
	var rows []row
	for i := 0; i < f.Rows(); i++ {
		rows = append(rows, row{
			id: col("sessionId").At(i).(string), app: col("appService").At(i).(string) + " " + col("appVersion").At(i).(string),
			device: col("deviceModel").At(i).(string) + " iOS " + col("osVersion").At(i).(string), network: col("networkType").At(i).(string),
			start: col("start").At(i).(time.Time), dur: col("durationMs").At(i).(float64), slowest: col("slowestRequestMs").At(i).(float64),
			req: col("requests").At(i).(int64), errs: col("errors").At(i).(int64), backend: col("backendTraces").At(i).(int64),
		})
	}
	sort.SliceStable(rows, func(i, j int) bool {
		if rows[i].errs != rows[j].errs {
			return rows[i].errs > rows[j].errs
		}
		return rows[i].req > rows[j].req
	})
	if len(rows) > n {
		rows = rows[:n]
	}
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "SESSION\tAPP\tDEVICE\tNETWORK\tSTART\tDURATION\tREQUESTS\tERRORS\tBACKEND TRACES\tSLOWEST")
	for _, r := range rows {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\n", r.id, r.app, r.device, r.network, r.start.Format("15:04:05"),
			ms(r.dur), r.req, r.errs, r.backend, ms(r.slowest))
	}
	w.Flush()
	return b.String()
}

func ms(v float64) string {
	return time.Duration(v * float64(time.Millisecond)).Round(time.Millisecond).String()
}

// Waterfall renders a trace frame (Grafana's trace columns) as a tree, each
// span with a bar placed on the session's time axis. maxRows caps the output.
func Waterfall(f *data.Frame, width, maxRows int) string {
	get := func(name string, i int) any {
		fl, _ := f.FieldByName(name)
		if fl == nil {
			return nil
		}
		return fl.At(i)
	}
	type node struct {
		id, parent, name, service string
		start, dur                float64
		status                    int64
		kids                      []*node
	}
	nodes := map[string]*node{}
	var order []*node
	for i := 0; i < f.Rows(); i++ {
		n := &node{id: get("spanID", i).(string), parent: get("parentSpanID", i).(string), name: get("operationName", i).(string),
			service: get("serviceName", i).(string), start: get("startTime", i).(float64), dur: get("duration", i).(float64),
			status: get("statusCode", i).(int64)}
		nodes[n.id] = n
		order = append(order, n)
	}
	var roots []*node
	minStart, maxEnd := math.Inf(1), math.Inf(-1)
	for _, n := range order {
		if p, ok := nodes[n.parent]; ok && n.parent != "" {
			p.kids = append(p.kids, n)
		} else {
			roots = append(roots, n)
		}
		minStart = math.Min(minStart, n.start)
		maxEnd = math.Max(maxEnd, n.start+n.dur)
	}
	span := maxEnd - minStart
	if span <= 0 {
		span = 1
	}
	var b strings.Builder
	rows := 0
	var walk func(n *node, depth int)
	walk = func(n *node, depth int) {
		if rows == maxRows {
			return
		}
		rows++
		from := int(float64(width) * (n.start - minStart) / span)
		to := int(math.Ceil(float64(width) * (n.start + n.dur - minStart) / span))
		if to <= from {
			to = from + 1
		}
		if to > width {
			to = width
		}
		bar := strings.Repeat(" ", from) + strings.Repeat("█", to-from) + strings.Repeat(" ", width-to)
		mark := " "
		if n.status == 2 {
			mark = "✗"
		}
		label := fmt.Sprintf("%s%s %s: %s", strings.Repeat("  ", depth), mark, n.service, n.name)
		if len([]rune(label)) > 56 {
			label = string([]rune(label)[:55]) + "…"
		}
		fmt.Fprintf(&b, "%-56s |%s| %8s\n", label, bar, ms(n.dur))
		sort.SliceStable(n.kids, func(i, j int) bool { return n.kids[i].start < n.kids[j].start })
		for _, k := range n.kids {
			walk(k, depth+1)
		}
	}
	for _, r := range roots {
		walk(r, 0)
	}
	if rows == maxRows && len(order) > maxRows {
		fmt.Fprintf(&b, "… %d more spans\n", len(order)-maxRows)
	}
	return b.String()
}
