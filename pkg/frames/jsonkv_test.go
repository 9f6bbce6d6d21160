package frames

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stitch-observability/stitch/pkg/telemetry"
)

var jsonSamples = []string{"", "plain", `quo"te`, `back\slash`, "new\nline\r\t", "ctl\x01\x1f", "\b\f", "<html>&amp;", "unicode ✓ 世界",
	"bad utf8 \xff\xfe", "\u2028\u2029", "emoji 🚀", "\x7f del"}

var floatSamples = []float64{0, 1, -1, 1.5, 1.7e12 + 0.25, 1e20, 1e21, 1e-6, 1e-7, 123456789.123, -4.5e-9, math.MaxFloat64, math.SmallestNonzeroFloat64}

// The hand-written writer produces byte-for-byte what encoding/json does.
func TestJSONWriterMatchesEncodingJSON(t *testing.T) {
	for _, s := range jsonSamples {
		want, err := json.Marshal(s)
		require.NoError(t, err)
		assert.Equal(t, string(want), string(appendJSONString(nil, s)), "%q", s)
	}
	for _, f := range floatSamples {
		want, err := json.Marshal(f)
		require.NoError(t, err)
		assert.Equal(t, string(want), string(appendFloat(nil, f)), "%v", f)
	}
	assert.Equal(t, "null", string(appendFloat(nil, math.NaN())))

	attrs := telemetry.Attrs{{Key: "a", Value: "x\"y"}, {Key: "<k>", Value: "\u2028"}, {Key: "", Value: ""}}
	type kv struct {
		Key   string `json:"key"`
		Value string `json:"value"`
	}
	var list []kv
	obj := map[string]string{}
	for _, a := range attrs {
		list = append(list, kv(a))
		obj[a.Key] = a.Value
	}
	want, _ := json.Marshal(list)
	assert.Equal(t, string(want), string(append(appendKVs([]byte{'['}, attrs, false), ']')))
	got := append(appendObject([]byte{'{'}, attrs, false), '}')
	var back map[string]string
	require.NoError(t, json.Unmarshal(got, &back))
	assert.Equal(t, obj, back)
	assert.Equal(t, `{"a":"x\"y","\u003ck\u003e":"\u2028","":""}`, string(got), "keys in the given order")
}

// Cells cut from the arena keep their bytes when later cells outgrow a
// chunk.
func TestCellArenaCellsStayPut(t *testing.T) {
	a := newCellArena(0)
	var cells []json.RawMessage
	var want []string
	for i := range 3000 {
		s := string(appendFloat(nil, float64(i)*1.25))
		b := append(a.begin(), '[')
		for range i % 7 {
			b = append(b, s...)
		}
		cells = append(cells, a.end(append(b, ']')))
		want = append(want, string(cells[i]))
	}
	for i := range cells {
		require.Equal(t, want[i], string(cells[i]))
		require.Equal(t, len(cells[i]), cap(cells[i]), "a cell cannot be appended into its neighbour")
	}
}

// column's storage is the field's: what is written shows in the field.
func TestColumnFillsTheField(t *testing.T) {
	f, v := column[string]("s", data.FieldTypeString, 3)
	v[0], v[2] = "a", "c"
	assert.Equal(t, []any{"a", "", "c"}, []any{f.At(0), f.At(1), f.At(2)})
	tf, tv := column[time.Time]("t", data.FieldTypeTime, 1)
	tv[0] = time.Unix(5, 0)
	assert.Equal(t, time.Unix(5, 0), tf.At(0))
	jf, jv := column[json.RawMessage]("j", data.FieldTypeJSON, 1)
	jv[0] = json.RawMessage(`{}`)
	assert.Equal(t, json.RawMessage(`{}`), jf.At(0))
	nf, nv := column[*int64]("n", data.FieldTypeNullableInt64, 2)
	x := int64(7)
	nv[1] = &x
	assert.True(t, nf.NilAt(0))
	assert.Equal(t, &x, nf.At(1))
	ef, ev := column[float64]("e", data.FieldTypeFloat64, 0)
	assert.Zero(t, ef.Len())
	assert.Nil(t, ev)
	assert.Panics(t, func() { column[int64]("bad", data.FieldTypeString, 1) })
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

func FuzzJSONFloat(f *testing.F) {
	for _, x := range floatSamples {
		f.Add(x)
	}
	f.Fuzz(func(t *testing.T, x float64) {
		want, err := json.Marshal(x)
		if err != nil {
			want = []byte("null")
		}
		if got := appendFloat(nil, x); string(got) != string(want) {
			t.Fatalf("%v: got %s want %s", x, got, want)
		}
	})
}
