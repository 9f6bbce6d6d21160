// Package storehttp is the HTTP plumbing every store adapter shares: one
// client per store built from the SDK's httpclient with the store's settings,
// bounded response reads, and errors that say which store failed and whose
// fault it is (Grafana's error source), never carrying a secret.
package storehttp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/httpclient"

	"github.com/stitch-observability/stitch/pkg/settings"
)

// MaxBodyBytes bounds what Stitch reads from one store response.
const MaxBodyBytes = 64 << 20

// tooLarge is the message of a response over MaxBodyBytes.
var tooLarge = fmt.Sprintf("response larger than %d MiB; narrow the time range", MaxBodyBytes>>20)

// Client calls one store's HTTP API.
type Client struct {
	store *settings.Store
	http  *http.Client
}

// New builds a store's client from its settings through the SDK's provider,
// so auth, TLS, timeouts and Grafana's middlewares apply.
func New(store *settings.Store) (*Client, error) {
	hc, err := httpclient.New(store.HTTPClientOptions())
	if err != nil {
		return nil, backend.DownstreamError(fmt.Errorf("%s store: building the HTTP client: %w", store.Role, err))
	}
	return &Client{store: store, http: hc}, nil
}

// Store is the settings this client was built from.
func (c *Client) Store() *settings.Store { return c.store }

// Close releases idle connections; called from the instance's Dispose.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// URL joins the store's base URL with an API path and query.
func (c *Client) URL(path string, query url.Values) string {
	u := *c.store.URL
	u.Path = strings.TrimRight(u.Path, "/") + path
	u.RawQuery = query.Encode()
	return u.String()
}

// Get performs a GET and returns the body of a 2xx response, read whole:
// for small answers (Tempo's echo). Large answers are decoded as they are
// read, from Stream.
func (c *Client) Get(ctx context.Context, path string, query url.Values, accept string) ([]byte, error) {
	req, err := c.request(ctx, path, query, accept)
	if err != nil {
		return nil, err
	}
	return c.Do(req)
}

// Stream performs a GET and returns the body of a 2xx response to be read
// as it arrives; the caller closes it.
func (c *Client) Stream(ctx context.Context, path string, query url.Values, accept string) (*Body, error) {
	req, err := c.request(ctx, path, query, accept)
	if err != nil {
		return nil, err
	}
	return c.Open(req)
}

func (c *Client) request(ctx context.Context, path string, query url.Values, accept string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL(path, query), nil)
	if err != nil {
		return nil, fmt.Errorf("building request to %s: %w", path, err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	return req, nil
}

// Do sends a request and returns the body of a 2xx response, or an *Error.
func (c *Client) Do(req *http.Request) ([]byte, error) {
	body, err := c.Open(req)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	b, err := io.ReadAll(body)
	if err != nil {
		return nil, err // already a store *Error: see Body.Read
	}
	return b, nil
}

// errorBodyBytes bounds what is read of a non-2xx answer: its message is
// cut to an excerpt anyway.
const errorBodyBytes = 64 << 10

// Open sends a request and returns the body of a 2xx response, to be read
// as a stream and closed by the caller, or an *Error: the transport's, or
// the store's status with an excerpt of what it said.
func (c *Client) Open(req *http.Request) (*Body, error) {
	if b := budgetFrom(req.Context()); b != nil {
		b.requests.Add(1)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.transportError(req.URL.Path, err)
	}
	body := c.newBody(req.Context(), req.URL.Path, resp.Body)
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		return body, nil
	}
	defer body.Close()
	msg, err := io.ReadAll(io.LimitReader(body, errorBodyBytes))
	if err != nil {
		return nil, err
	}
	return nil, &Error{
		Store:      c.store,
		Path:       req.URL.Path,
		StatusCode: resp.StatusCode,
		Msg:        statusMessage(resp, msg),
		Source:     backend.ErrorSourceFromHTTPStatus(resp.StatusCode),
	}
}

// GetJSON performs a GET and decodes a JSON response into out as it is
// read (DecodeJSON). A body that is not JSON (an HTML login page, a proxy's
// error page) is reported as such.
func (c *Client) GetJSON(ctx context.Context, path string, query url.Values, out any) error {
	body, err := c.Stream(ctx, path, query, "application/json")
	if err != nil {
		return err
	}
	defer body.Close()
	if err := DecodeJSON(body, out, nil); err != nil {
		return body.NotTheAPI(err)
	}
	return nil
}

// NotTheAPI reports a 2xx body that is not what the store's API returns.
func (c *Client) NotTheAPI(path string, body []byte, cause error) error {
	what := "a response that is not " + apiName(c.store.Kind)
	if looksLikeHTML(body) {
		what = "an HTML page instead of " + apiName(c.store.Kind)
	}
	return &Error{
		Store:  c.store,
		Path:   path,
		Msg:    fmt.Sprintf("answered with %s; is the URL the %s API's base URL? (%v)", what, c.store.Kind, cause),
		Source: backend.ErrorSourceDownstream,
	}
}

func (c *Client) transportError(path string, err error) error {
	msg, timedOut := err.Error(), false
	// url.Error repeats the method and full URL; keep only the cause.
	var ue *url.Error
	if errors.As(err, &ue) {
		msg = ue.Err.Error()
	}
	switch {
	case errors.Is(err, context.Canceled):
		msg = "request cancelled"
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		timedOut = true
		msg = fmt.Sprintf("no answer within %s (the store's timeout setting)", c.store.Timeout)
	case errors.Is(err, syscall.ECONNREFUSED):
		msg = "connection refused: is the store running and the URL's port right?"
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		msg = fmt.Sprintf("host %q not found", dnsErr.Name)
	}
	return &Error{Store: c.store, Path: path, Msg: msg, Source: backend.ErrorSourceDownstream, TimedOut: timedOut, cause: err}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// Error is a failed store call. Its message names the store's role, kind and
// host, never its credentials.
//
// The SDK classifies errors by comparing them with its status.ErrorWithSource
// (backend.IsDownstreamError, backend.ErrorResponseWithErrorSource): Is and
// As answer those comparisons with Source, so an *Error, however deeply
// wrapped, is seen as what it is, and errors.As(err, **Error) still finds it.
type Error struct {
	Store      *settings.Store
	Path       string
	StatusCode int
	Msg        string
	Source     backend.ErrorSource
	// TimedOut is set when the store gave no answer within its timeout
	// setting or the request's deadline. (The SDK's client wraps the cause
	// so that net.Error's Timeout no longer reports it.)
	TimedOut bool
	cause    error
}

var _ interface {
	Is(error) bool
	As(any) bool
} = (*Error)(nil)

func (e *Error) Error() string {
	prefix := fmt.Sprintf("%s store (%s at %s)", e.Store.Role, e.Store.Kind, e.Store.Host())
	if e.StatusCode != 0 {
		return e.Store.Redact(fmt.Sprintf("%s: %s answered %d: %s", prefix, e.Path, e.StatusCode, e.Msg))
	}
	return e.Store.Redact(fmt.Sprintf("%s: %s: %s", prefix, e.Path, e.Msg))
}

func (e *Error) Unwrap() error { return e.cause }

// Timeout reports TimedOut, as net.Error does, so that callers that do not
// know this type can tell a store that gave no answer in time.
func (e *Error) Timeout() bool { return e.TimedOut }

// ErrorSource says whose fault the error is (plugin vs downstream).
func (e *Error) ErrorSource() backend.ErrorSource { return e.Source }

// Is reports whether target is the SDK's error-with-source marker of this
// error's source: backend.IsDownstreamError and backend.IsPluginError ask so.
func (e *Error) Is(target error) bool {
	t, ok := target.(backend.ErrorWithSource)
	return ok && t.ErrorSource() == e.Source
}

// As fills the SDK's error-with-source type, for
// backend.ErrorResponseWithErrorSource.
func (e *Error) As(target any) bool {
	t, ok := target.(*backend.ErrorWithSource)
	if ok {
		*t = backend.NewErrorWithSource(e, e.Source)
	}
	return ok
}

func statusMessage(resp *http.Response, body []byte) string {
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		return "unauthorized: check the store's auth settings"
	case http.StatusForbidden:
		return "forbidden: the credentials lack access (or the tenant is wrong)"
	case http.StatusNotFound:
		what := excerpt(body)
		if looksLikeHTML(body) {
			what = "an HTML page"
		}
		return fmt.Sprintf("not found (%s): is the URL the store's API base URL?", what)
	}
	if looksLikeHTML(body) {
		return http.StatusText(resp.StatusCode) + " (an HTML page)"
	}
	return excerpt(body)
}

// excerpt keeps an error body short and on one line.
func excerpt(body []byte) string {
	s := strings.Join(strings.Fields(string(body)), " ")
	if s == "" {
		return "(empty body)"
	}
	const max = 300
	if len(s) > max {
		s = s[:max] + "…"
	}
	return s
}

func looksLikeHTML(body []byte) bool {
	s := strings.ToLower(strings.TrimSpace(string(body[:min(len(body), 512)])))
	return strings.HasPrefix(s, "<!doctype html") || strings.HasPrefix(s, "<html") || strings.Contains(s, "<head") || strings.Contains(s, "<body")
}

func apiName(k settings.Kind) string {
	switch k {
	case settings.KindJaeger:
		return "Jaeger's query API JSON"
	case settings.KindTempo:
		return "Tempo's HTTP API JSON"
	case settings.KindVictoriaLogs:
		return "VictoriaLogs' LogsQL JSON lines"
	case settings.KindLoki:
		return "Loki's HTTP API JSON"
	case settings.KindPrometheus:
		return "Prometheus' HTTP API JSON"
	}
	return "the store's API"
}
