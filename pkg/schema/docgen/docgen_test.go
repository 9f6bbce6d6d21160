package docgen

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stitch-observability/stitch/pkg/schema"
	schemafiles "github.com/stitch-observability/stitch/schema"
)

// firstDiff describes where two texts start to differ.
func firstDiff(got, want []byte) string {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return "line " + strconv.Itoa(i+1) + ":\n committed: " + gl + "\n generated: " + wl
		}
	}
	return "no line differs (trailing bytes?)"
}

// TestReadmeUpToDate fails when the committed schema/README.md differs from
// what the generator produces from schema/stitch-telemetry.yaml.
func TestReadmeUpToDate(t *testing.T) {
	want := Markdown(schema.Default())
	if !bytes.Equal(schemafiles.README, want) {
		t.Fatalf("%s is stale; %s and commit the result.\n%s", ReadmePath, RegenerateHint, firstDiff(schemafiles.README, want))
	}
}

// TestNamesUpToDate fails when pkg/schema/names_gen.go differs from what
// the generator produces.
func TestNamesUpToDate(t *testing.T) {
	want, err := Names(schema.Default())
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join("..", "names_gen.go"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is stale; %s and commit the result.\n%s", NamesPath, RegenerateHint, firstDiff(got, want))
	}
}

func TestGoName(t *testing.T) {
	for in, want := range map[string]string{
		"session.id":                  "SessionID",
		"http.request.resend_count":   "HTTPRequestResendCount",
		"ios.app.state":               "IOSAppState",
		"url.template":                "URLTemplate",
		"os.version":                  "OSVersion",
		"stitch.clock.offset_ms":      "StitchClockOffsetMs",
		"feature_flag.result.variant": "FeatureFlagResultVariant",
		"traceparent":                 "Traceparent",
	} {
		if got := GoName(in); got != want {
			t.Errorf("GoName(%q) = %q, want %q", in, got, want)
		}
	}
}
