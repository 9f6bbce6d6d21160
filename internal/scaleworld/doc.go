// Package scaleworld generates large worlds for Stitch: N app sessions of
// one iOS app and its backend services, written straight to the stores
// (Jaeger, VictoriaLogs, Prometheus) as OTLP/HTTP protobuf with seeded,
// realistic timestamps spread over a past window, and a ground truth that
// says exactly what was written.
//
// Planning (Plan) is pure and separate from sending (Send): the plan decides
// every session, request, span, log record and histogram point; Send builds
// OTLP with pdata in large batches and posts the three signals at once;
// WaitArrived polls the stores until everything is queryable; Truth and
// LoadTruth give the ground truth (per session and request, plus exact
// per-endpoint percentiles) to tests.
//
// The world shares nothing with the demo world (internal/demoworld): its
// app's service.name (Config.App, default "scale-ios") names every backend
// service ("<app>-gateway", "<app>-orders", ...), and its endpoints,
// versions, devices and latencies are its own, so both can be loaded into
// the same stores and told apart by service name. Every resource also
// carries service.instance.id = the run ID, so two loads of the same app
// can be told apart too (Prometheus: label instance).
//
// A test loads a world and reads its truth like this (targets from
// demoworld.StackTargets(stack, true)):
//
//	w, err := scaleworld.Plan(scaleworld.Config{Sessions: 2000, Seed: 1, App: "scale-ios-mytest"})
//	truth := w.Truth() // or scaleworld.LoadTruth(path) for a file stitch-world -scale wrote
//	_, err = scaleworld.Send(ctx, w, targets)
//	_, err = scaleworld.WaitArrived(ctx, w, targets)
//	feed, _ := truth.Aggregates.Endpoint("GET /v2/home/feed") // feed.Client.P95, feed.Server.P99...
//
// Jaeger's memory store keeps at most max_traces traces (200000 in the
// local stack): a 10^4-session world is about 53000 traces, so a few loads
// fit before the oldest traces are evicted.
//
// The request histograms are what the reference collector's span-metrics
// connector writes (deploy/collector/stitch-collector.yaml): metric
// stitch.requests.duration in ms with its explicit buckets, which Prometheus
// names stitch_requests_duration_milliseconds; labels job (service),
// span_kind, span_name, status_code, http_request_method,
// http_response_status_code and url_template (client spans) or http_route
// (server spans). The connector's device dimensions (service.version,
// os.version, device.model.identifier, network.connection.type) are left
// out to keep the series count small. Points are cumulative, one a minute,
// the first at the window's start with zero counts; Prometheus accepts such
// old samples only with an out-of-order window (the local stack's
// prometheus.yaml sets storage.tsdb.out_of_order_time_window: 3h).
package scaleworld
