package storehttp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A body over the cap fails as it is read, with the same message whether
// it is decoded as a stream or read whole.
func TestBodyOverTheCap(t *testing.T) {
	url := serve(t, func(w http.ResponseWriter, r *http.Request) {
		// A valid JSON answer one byte over the cap.
		w.Write([]byte(`{"data":"`))
		w.Write(bytes.Repeat([]byte("x"), MaxBodyBytes-len(`{"data":"`)-len(`"}`)+1))
		w.Write([]byte(`"}`))
	})
	c := client(t, url, map[string]any{"timeoutSeconds": 60}, nil) // 64 MiB on a loaded machine
	var out struct{ Data string }
	errs := map[string]error{"stream": c.GetJSON(context.Background(), "/x", nil, &out)}
	_, errs["whole"] = c.Get(context.Background(), "/x", nil, "")
	for name, err := range errs {
		var se *Error
		require.ErrorAs(t, err, &se, name)
		assert.Equal(t, backend.ErrorSourceDownstream, se.ErrorSource(), name)
		assert.Contains(t, err.Error(), "metrics store (prometheus at 127.0.0.1:", name)
		assert.Contains(t, err.Error(), "response larger than 64 MiB; narrow the time range", name)
	}
}

// The reads of one query share its budget; once spent, the next read fails
// with a downstream error that says what to do.
func TestQueryBudget(t *testing.T) {
	url := serve(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"data":%q}`, strings.Repeat("x", 1000))
	})
	c := client(t, url, nil, nil)
	b := NewBudget(2500)
	ctx := WithBudget(context.Background(), b)
	var out struct{ Data string }
	require.NoError(t, c.GetJSON(ctx, "/x", nil, &out))
	require.NoError(t, c.GetJSON(ctx, "/x", nil, &out))
	err := c.GetJSON(ctx, "/x", nil, &out)
	var se *Error
	require.ErrorAs(t, err, &se)
	assert.Equal(t, backend.ErrorSourceDownstream, se.ErrorSource())
	assert.Contains(t, err.Error(), "this query read more than 0 MiB from its stores (its memory budget); narrow the time range")
	// Another query's budget is its own.
	require.NoError(t, c.GetJSON(WithBudget(context.Background(), NewBudget(2500)), "/x", nil, &out))
}

// A store's timeout while the body arrives is the store's timeout, as when
// no header came.
func TestTimeoutWhileReadingTheBody(t *testing.T) {
	url := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"data":[`))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	var out struct{ Data []string }
	err := client(t, url, nil, nil).GetJSON(context.Background(), "/x", nil, &out)
	var se *Error
	require.ErrorAs(t, err, &se)
	assert.True(t, se.TimedOut, err.Error())
	assert.Contains(t, err.Error(), "no answer within 1s")
}

// A store error's message comes from the first bytes of its body, however
// long the body.
func TestLongErrorBody(t *testing.T) {
	url := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(500)
		w.Write([]byte("boom "))
		w.Write(bytes.Repeat([]byte("y"), MaxBodyBytes+10))
	})
	_, err := client(t, url, nil, nil).Get(context.Background(), "/x", nil, "")
	var se *Error
	require.ErrorAs(t, err, &se)
	assert.Equal(t, 500, se.StatusCode)
	assert.Contains(t, err.Error(), "answered 500: boom yyy")
}

type fuzzEnvelope struct {
	Status string `json:"status"`
	Data   struct {
		ResultType string     `json:"resultType"`
		Result     []fuzzItem `json:"result"`
	} `json:"data"`
	Items    []fuzzItem      `json:"items"`
	Raw      json.RawMessage `json:"raw"`
	Warnings []string        `json:"warnings,omitempty"`
	Ptr      *fuzzItem       `json:"ptr"`
	Count    int             `json:"count"`
	Skipped  string          `json:"-"`
	hidden   string
}

type fuzzItem struct {
	ID     string            `json:"id"`
	Labels map[string]string `json:"labels"`
	Values [][]string        `json:"values"`
	Sub    []struct {
		K string
		V float64
	} `json:"sub"`
	N json.Number `json:"n,string"`
}

// FuzzDecodeJSON: decoding as a stream gives what json.Unmarshal gives,
// and fails where it fails.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`{"status":"success","data":{"resultType":"streams","result":[{"id":"a","labels":{"k":"v"},"values":[["1","x"],[]],"sub":[{"K":"k","v":2}]}]}}`,
		`{"items":[{"id":"a"},{"ID":"b","n":"3"}],"raw":{"x":[1,2]},"warnings":["w"],"ptr":{"id":"p"},"count":3}`,
		`{"DATA":{"RESULT":null},"Status":"s","status":"t","items":[],"items":[{"id":"z"}]}`,
		`{"data":[]}`, `null`, `{} x`, `{}{}`, ``, `[]`, `{"count":"3"}`, `{"count":1e400}`, `{"items":{}}`,
		`{"unknown":[{"a":[[[]]]}],"-":"x","hidden":"h"}`, `{"items":[{"id":"a"}`, "\xef\xbb\xbf{}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var want, got fuzzEnvelope
		werr := json.Unmarshal(body, &want)
		gerr := DecodeJSON(bytes.NewReader(body), &got, nil)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("json.Unmarshal: %v; DecodeJSON: %v", werr, gerr)
		}
		if werr == nil && !reflect.DeepEqual(want, got) {
			t.Fatalf("json.Unmarshal: %+v\nDecodeJSON:     %+v", want, got)
		}
	})
}
