// Package contracttest holds the contract fixtures machinery the Tempo and
// Loki adapters are tested with (those stores cannot run here): request →
// response pairs that follow the stores' API documentation and what their
// real servers answer (each pair names the versions it stands for), a test double
// that answers only those pairs (and 400 for any other request shape, so an
// adapter that drifts is caught), and golden files rewritten only on -update.
// Test code only.
package contracttest

import (
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// Update rewrites the generated binary fixtures and the golden files. Off by
// default: a test run never changes testdata.
var Update = flag.Bool("update", false, "rewrite testdata fixtures and golden files")

// Contract is one request → response pair of testdata/contracts: the request
// shape the adapter must send and the answer the real store gives for it. Doc
// names the documentation section and the server behaviour the pair follows,
// and the store versions it stands for.
type Contract struct {
	Doc     string `json:"doc"`
	Request struct {
		Method  string            `json:"method"`
		Path    string            `json:"path"`
		Query   map[string]string `json:"query"`
		Headers map[string]string `json:"headers"`
	} `json:"request"`
	Response struct {
		Status  int               `json:"status"`
		Headers map[string]string `json:"headers"`
		JSON    json.RawMessage   `json:"json"`
		Text    *string           `json:"text"`
		File    string            `json:"file"`
	} `json:"response"`

	name string
	body []byte
}

// Load reads testdata/contracts/name.
func Load(t *testing.T, name string) *Contract {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "contracts", name))
	require.NoError(t, err)
	var c Contract
	require.NoError(t, json.Unmarshal(raw, &c), name)
	require.NotEmpty(t, c.Doc, "%s names the documentation it follows", name)
	c.name = name
	switch {
	case c.Response.File != "":
		c.body, err = os.ReadFile(filepath.Join("testdata", c.Response.File))
		require.NoError(t, err)
	case c.Response.Text != nil:
		c.body = []byte(*c.Response.Text)
	case len(c.Response.JSON) > 0:
		c.body = c.Response.JSON
	}
	return &c
}

// matches says whether r has exactly the contract's method, path and query
// parameters (no more, no fewer), and carries its headers.
func (c *Contract) matches(r *http.Request) bool {
	method := c.Request.Method
	if method == "" {
		method = http.MethodGet
	}
	if r.Method != method || r.URL.Path != c.Request.Path {
		return false
	}
	q := r.URL.Query()
	if len(q) != len(c.Request.Query) {
		return false
	}
	for k, want := range c.Request.Query {
		if got, ok := q[k]; !ok || len(got) != 1 || got[0] != want {
			return false
		}
	}
	for k, want := range c.Request.Headers {
		if r.Header.Get(k) != want {
			return false
		}
	}
	return true
}

// Double is a test double of a store's HTTP API that answers only the named
// contracts: a request of any other shape gets 400 (as the store does for a
// request it cannot parse) and fails the test, so an adapter that drifts
// from the documented requests is caught.
type Double struct {
	*httptest.Server
	mu     sync.Mutex
	misses []string
	hits   map[string]int
}

// NewDouble serves the named contracts of testdata/contracts for store.
func NewDouble(t *testing.T, store string, names ...string) *Double {
	t.Helper()
	var contracts []*Contract
	for _, n := range names {
		contracts = append(contracts, Load(t, n))
	}
	d := &Double{hits: map[string]int{}}
	d.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, c := range contracts {
			if !c.matches(r) {
				continue
			}
			d.mu.Lock()
			d.hits[c.name]++
			d.mu.Unlock()
			for k, v := range c.Response.Headers {
				w.Header().Set(k, v)
			}
			w.WriteHeader(c.Response.Status)
			_, _ = w.Write(c.body)
			return
		}
		miss := fmt.Sprintf("%s %s accept=%q org=%q", r.Method, r.URL.RequestURI(), r.Header.Get("Accept"), r.Header.Get("X-Scope-OrgID"))
		d.mu.Lock()
		d.misses = append(d.misses, miss)
		d.mu.Unlock()
		http.Error(w, store+" contract double: no documented request has this shape: "+miss, http.StatusBadRequest)
	}))
	t.Cleanup(func() {
		d.Close()
		d.mu.Lock()
		defer d.mu.Unlock()
		if len(d.misses) > 0 {
			t.Errorf("requests outside the contracts %v:\n  %s", names, strings.Join(d.misses, "\n  "))
		}
	})
	return d
}

// Used lists the contracts answered, sorted.
func (d *Double) Used() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for n := range d.hits {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// CheckGolden compares v, as indented JSON, with testdata/golden/name;
// -update rewrites the file.
func CheckGolden(t *testing.T, name string, v any) {
	t.Helper()
	got, err := json.MarshalIndent(v, "", "  ")
	require.NoError(t, err)
	got = append(got, '\n')
	path := filepath.Join("testdata", "golden", name)
	if *Update {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "golden file missing: rerun this package's tests with -update")
	require.Equal(t, string(want), string(got), "converted model differs from %s (rerun with -update if the change is intended)", path)
}

// Response is the answer of one contract of testdata/contracts.
type Response struct {
	Name   string
	Status int
	Body   []byte
}

// Responses reads the answer of every contract in testdata/contracts, sorted
// by name: realistic store bodies to seed fuzz targets with.
func Responses(tb testing.TB) []Response {
	tb.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "contracts", "*.json"))
	if err != nil || len(paths) == 0 {
		tb.Fatalf("no contracts in testdata/contracts (%v)", err)
	}
	sort.Strings(paths)
	var out []Response
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		var c Contract
		if err := json.Unmarshal(raw, &c); err != nil {
			tb.Fatalf("%s: %v", p, err)
		}
		r := Response{Name: filepath.Base(p), Status: c.Response.Status}
		switch {
		case c.Response.File != "":
			if r.Body, err = os.ReadFile(filepath.Join("testdata", c.Response.File)); err != nil {
				tb.Fatal(err)
			}
		case c.Response.Text != nil:
			r.Body = []byte(*c.Response.Text)
		default:
			r.Body = c.Response.JSON
		}
		out = append(out, r)
	}
	return out
}
