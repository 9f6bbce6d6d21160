package schemafiles

import (
	"encoding/json"
	"testing"
)

// TestEmbeddedFiles checks that the embedded files are present and that
// every vector file is a JSON document with a category and vectors. The
// vectors themselves are run by the tests of pkg/schema.
func TestEmbeddedFiles(t *testing.T) {
	if len(YAML) == 0 || len(README) == 0 {
		t.Fatal("stitch-telemetry.yaml or README.md is empty")
	}
	if _, err := Vectors.ReadFile("vectors/README.md"); err != nil {
		t.Fatal(err)
	}
	for _, name := range VectorFiles {
		raw, err := Vectors.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Category string            `json:"category"`
			Vectors  []json.RawMessage `json:"vectors"`
		}
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if doc.Category == "" || len(doc.Vectors) == 0 {
			t.Fatalf("%s: no category or no vectors", name)
		}
	}
}
