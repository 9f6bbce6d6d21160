package frames

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var jsonSamples = []string{"", "plain", `quo"te`, `back\slash`, "new\nline\r\t", "ctl\x01\x1f", "<html>&amp;", "unicode ✓ 世界",
	"bad utf8 \xff\xfe", "\u2028\u2029", "emoji 🚀"}

// The hand-written writer produces byte-for-byte what encoding/json does.
func TestJSONWriterMatchesEncodingJSON(t *testing.T) {
	for _, s := range jsonSamples {
		want, err := json.Marshal(s)
		require.NoError(t, err)
		assert.Equal(t, string(want), string(appendJSONString(nil, s)), "%q", s)
	}
	kvs := []traceKV{strKV("a", "x\"y"), {Key: "n", Val: 42}, {Key: "f", Val: 1.5}, {Key: "b", Val: true}, {Key: "i64", Val: int64(-3)}, {Key: "big", Val: 1e21}}
	want := `[{"key":"a","value":"x\"y"},{"key":"n","value":42},{"key":"f","value":1.5},{"key":"b","value":true},{"key":"i64","value":-3},{"key":"big","value":1e+21}]`
	assert.JSONEq(t, want, string(kvListJSON(kvs)))
	logs := []traceLog{{Timestamp: 1.7e12 + 0.25, Fields: kvs[:2], Name: "n"}, {Timestamp: 1, Fields: nil}}
	got := logsJSON(logs)
	var back []map[string]any
	require.NoError(t, json.Unmarshal(got, &back))
	assert.Len(t, back, 2)
	assert.Equal(t, "n", back[0]["name"])
	refs := []traceReference{{SpanID: "a", TraceID: "b", Tags: kvs[:1]}}
	wantRefs, _ := json.Marshal(refs)
	assert.JSONEq(t, string(wantRefs), string(referencesJSON(refs)))
	assert.JSONEq(t, `{"k":"v","q":"\""}`, string(objectJSON([]string{"k", "q"}, []string{"v", `"`})))
}

func FuzzJSONString(f *testing.F) {
	for _, s := range jsonSamples {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, s); string(got) != string(want) {
			t.Fatalf("%q: got %s want %s", s, got, want)
		}
	})
}
