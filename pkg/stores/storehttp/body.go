package storehttp

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
)

// Body is a store's answer, read as it arrives, so that what Stitch holds
// of it is what the adapter decoded, never the raw body as well. Reading
// fails with a store *Error, sticky, when
//   - more than MaxBodyBytes arrive ("response larger than 64 MiB; narrow
//     the time range"),
//   - the query's Budget runs out,
//   - the transport fails (the store's timeout, the query's cancellation).
//
// The first bytes are kept, to describe a body that is not the store's API
// (an HTML login page). Not safe for concurrent use.
type Body struct {
	c      *Client
	path   string
	r      io.ReadCloser
	budget *Budget
	n      int64
	head   []byte
	err    error
}

// headBytes is how much of a body is kept to describe it.
const headBytes = 512

func (c *Client) newBody(ctx context.Context, path string, r io.ReadCloser) *Body {
	return &Body{c: c, path: path, r: r, budget: budgetFrom(ctx)}
}

func (b *Body) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	// One byte past the cap tells a body over it from one exactly at it.
	if room := MaxBodyBytes + 1 - b.n; int64(len(p)) > room {
		p = p[:room]
	}
	n, err := b.r.Read(p)
	if len(b.head) < headBytes {
		b.head = append(b.head, p[:min(n, headBytes-len(b.head))]...)
	}
	b.n += int64(n)
	switch {
	case b.n > MaxBodyBytes:
		b.err = &Error{Store: b.c.store, Path: b.path, Msg: tooLarge, Source: backend.ErrorSourceDownstream}
		return n - int(b.n-MaxBodyBytes), b.err
	case !b.budget.charge(n):
		b.err = &Error{Store: b.c.store, Path: b.path, Msg: b.budget.exceeded(), Source: backend.ErrorSourceDownstream}
		return n, b.err
	case err == io.EOF:
		return n, err
	case err != nil:
		b.err = b.c.transportError(b.path, err)
		return n, b.err
	}
	return n, nil
}

// Close releases the connection; a body not read to its end is not drained.
func (b *Body) Close() error { return b.r.Close() }

// NotTheAPI reports a body that could not be decoded: the error that
// stopped reading it (too large, the store's timeout, cancellation) when
// there was one, otherwise a body that is not what the store's API returns.
func (b *Body) NotTheAPI(cause error) error {
	if b.err != nil {
		return b.err
	}
	return b.c.NotTheAPI(b.path, b.head, cause)
}

// Budget bounds the bytes one query reads from its stores, all reads
// together; the plugin gives each query one (WithBudget). Decoded answers
// are what a query holds, and they grow with what was read, so bounding the
// reads bounds the query's memory whatever the stores send: each response
// is capped at MaxBodyBytes, but a query makes many reads, and reads the
// trace and the log store at once.
//
// When the budget runs out, the read fails with a store error that says so
// (downstream: the store sent more than a query can hold), rather than the
// query going on with what it has: an answer cut at a byte count is not a
// prefix of the data in any order the user could name (records come per
// stream, traces per service), and a partial answer that counts less than
// the store holds would mislead. A log store's failure still leaves the
// traces shown, with a notice, as for any other log store error.
//
// Safe for concurrent use: the reads of one query run in parallel.
type Budget struct {
	limit    int64
	used     atomic.Int64
	requests atomic.Int64
}

// Requests is how many requests the query sent to its stores.
func (b *Budget) Requests() int64 { return b.requests.Load() }

// NewBudget is a budget of limit bytes.
func NewBudget(limit int64) *Budget { return &Budget{limit: limit} }

type budgetKey struct{}

// WithBudget carries a query's budget to the store reads made with ctx.
func WithBudget(ctx context.Context, b *Budget) context.Context {
	return context.WithValue(ctx, budgetKey{}, b)
}

func budgetFrom(ctx context.Context) *Budget {
	b, _ := ctx.Value(budgetKey{}).(*Budget)
	return b
}

// charge counts n bytes read and says whether the budget still holds them.
// A nil budget (health checks, tests) holds everything.
func (b *Budget) charge(n int) bool {
	return b == nil || b.used.Add(int64(n)) <= b.limit
}

func (b *Budget) exceeded() string {
	return fmt.Sprintf("this query read more than %d MiB from its stores (its memory budget); narrow the time range", b.limit>>20)
}
