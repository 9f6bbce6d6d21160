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
	kvs := []traceKV{{"a", "x\"y"}, {"n", 42}, {"f", 1.5}, {"b", true}, {"i64", int64(-3)}, {"big", 1e21}}
	want, _ := json.Marshal(kvs)
	assert.JSONEq(t, string(want), string(kvListJSON(kvs)))
	logs := []traceLog{{Timestamp: 1.7e12 + 0.25, Fields: kvs[:2], Name: "n"}, {Timestamp: 1, Fields: nil}}
	got := logsJSON(logs)
	var back []map[string]any
	require.NoError(t, json.Unmarshal(got, &back))
	assert.Len(t, back, 2)
	assert.Equal(t, "n", back[0]["name"])
	refs := []traceReference{{SpanID: "a", TraceID: "b", Tags: kvs[:1]}}
	want, _ = json.Marshal(refs)
	assert.JSONEq(t, string(want), string(referencesJSON(refs)))
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
