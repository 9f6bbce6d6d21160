// Package demoworld builds Stitch's demo world: a seeded, reproducible
// simulation of an iOS app fleet and the backend services it calls, sending
// real OTLP through the OpenTelemetry Go SDK to the local stack (Jaeger,
// VictoriaLogs, Prometheus), together with a ground-truth file that says
// exactly what the stores must hold.
//
// It owns three things:
//
//   - the planner (Plan): a pure function of a seed and a size that decides
//     every device, session, screen, tap, request, retry, clock offset and
//     fault, with IDs drawn from a seeded generator and session rotation
//     decided by pkg/schema's SessionMachine on a virtual device clock;
//   - the executor (Run): real net/http backend services on 127.0.0.1
//     instrumented with OpenTelemetry (gateway → orders → inventory,
//     gateway → payments, and a legacy host that ignores trace context), and
//     a simulated fleet that calls them with traceparent and baggage exactly
//     as the Stitch iOS exporter will, stamping its spans with its own
//     (skewed) clock;
//   - the proof (ProveArrival): reading back through each store's own HTTP
//     API what arrived for one run and comparing it with the ground truth.
//
// Two clocks. The session rules run on each device's virtual clock (a
// session can sit in the background for 40 minutes or stay in the
// foreground for four hours) while the run itself takes about a minute:
// the executor plays each device's steps in real time with short real
// pauses, and every timestamp it emits is the true wall-clock time plus the
// device's clock offset. The ground truth records both: virtual_*_ms for
// the session rules, and true wall-clock times (start, end, time) for what
// the stores hold. So a session.end and the next session.start are a few
// hundred milliseconds apart in the stores even when the rule that rotated
// the session was a 15-minute background timeout.
//
// Every run is tagged with a run ID in the resource attributes
// service.instance.id and deployment.environment.name so that counts can be
// taken per run. Those tags exist for this package only: the plugin must
// never depend on them.
package demoworld
