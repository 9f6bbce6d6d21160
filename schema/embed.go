// Package schemafiles exposes the language-neutral files of the Stitch
// telemetry schema to Go code: the schema definition (stitch-telemetry.yaml),
// the generated human page (README.md) and the test vectors (vectors/*.json).
//
// The files themselves belong to no language; this package only embeds them
// so that Go code can use them without touching the file system. The logic
// that interprets them lives in github.com/stitch-observability/stitch/pkg/schema.
package schemafiles

import "embed"

// YAML is the content of stitch-telemetry.yaml, the source of truth.
//
//go:embed stitch-telemetry.yaml
var YAML []byte

// README is the committed, generated schema/README.md.
//
//go:embed README.md
var README []byte

// Vectors holds vectors/*.json and vectors/README.md.
//
//go:embed vectors/*.json vectors/README.md
var Vectors embed.FS

// VectorFiles lists the vector files, one per category, in a stable order.
var VectorFiles = []string{
	"vectors/traceparent.json",
	"vectors/baggage.json",
	"vectors/session_rotation.json",
	"vectors/url_template.json",
	"vectors/pseudonymous_id.json",
	"vectors/sampling.json",
	"vectors/validation.json",
}
