// Package settings owns Stitch's data source configuration: the typed settings
// for the trace, log and metric stores, parsed and validated once when Grafana
// creates a data source instance, with secrets read only from decrypted secure
// JSON data.
package settings

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/prometheus/common/model"
)

// Role names which kind of telemetry a store holds.
type Role string

const (
	RoleTraces  Role = "traces"
	RoleLogs    Role = "logs"
	RoleMetrics Role = "metrics"
)

// Roles lists the store roles in the order they are configured and reported.
var Roles = []Role{RoleTraces, RoleLogs, RoleMetrics}

// Kind names a store implementation.
type Kind string

const (
	KindJaeger       Kind = "jaeger"
	KindTempo        Kind = "tempo"
	KindVictoriaLogs Kind = "victorialogs"
	KindLoki         Kind = "loki"
	KindPrometheus   Kind = "prometheus"
)

// kindsByRole is the set of store kinds each role accepts.
var kindsByRole = map[Role][]Kind{
	RoleTraces:  {KindJaeger, KindTempo},
	RoleLogs:    {KindVictoriaLogs, KindLoki},
	RoleMetrics: {KindPrometheus},
}

// AuthMethod is how Stitch authenticates to a store.
type AuthMethod string

const (
	AuthNone   AuthMethod = "none"
	AuthBasic  AuthMethod = "basic"
	AuthBearer AuthMethod = "bearer"
)

const (
	DefaultTimeout = 30 * time.Second
	MaxTimeout     = 10 * time.Minute
)

// Secure JSON keys, one set per role: the role name followed by the suffix,
// e.g. "tracesBasicAuthPassword".
const (
	SecureBasicAuthPassword = "BasicAuthPassword"
	SecureBearerToken       = "BearerToken"
	SecureTLSCACert         = "TLSCACert"
	SecureTLSClientCert     = "TLSClientCert"
	SecureTLSClientKey      = "TLSClientKey"
)

// SecureKey returns the secureJsonData key holding a role's secret.
func SecureKey(role Role, suffix string) string { return string(role) + suffix }

// Store is the validated configuration of one store.
type Store struct {
	Role Role
	Kind Kind
	// URL is the store's base URL, without a trailing slash.
	URL *url.URL

	Auth          AuthMethod
	BasicAuthUser string
	// Tenant is sent as X-Scope-OrgID (Tempo, Loki, and Mimir-style Prometheus).
	Tenant string
	// AccountID and ProjectID are VictoriaLogs' tenant headers.
	AccountID string
	ProjectID string

	TLSSkipVerify bool
	TLSServerName string
	Timeout       time.Duration

	// RequestDurationMetric is the request-duration histogram (without its
	// _bucket suffix) the latency breakdown reads (its app client-span and
	// backend server-span series) and whose exemplars lead from a latency or
	// error spike to its sessions: metrics store only. The default is the
	// one the reference collector pipeline's span metrics write; a name
	// ending in _seconds is read in seconds.
	RequestDurationMetric string

	// LinkDatasourceUID is the uid of the Grafana data source (Tempo or
	// Jaeger for traces, Loki or VictoriaLogs for logs) that Stitch's data
	// links open a trace or a span's logs in; "" for no such links.
	LinkDatasourceUID string

	secrets storeSecrets
}

type storeSecrets struct {
	basicAuthPassword string
	bearerToken       string
	tlsCACert         string
	tlsClientCert     string
	tlsClientKey      string
}

// Host is the store's host:port, safe to show to users.
func (s *Store) Host() string { return s.URL.Host }

// Redact replaces each of this store's secrets that occurs in msg. Stores
// sometimes echo request headers back in error bodies.
func (s *Store) Redact(msg string) string {
	for _, secret := range []string{s.secrets.basicAuthPassword, s.secrets.bearerToken, s.secrets.tlsClientKey} {
		// Shorter values would redact ordinary words.
		if len(secret) >= 4 {
			msg = strings.ReplaceAll(msg, secret, "[redacted]")
		}
	}
	return msg
}

// Settings is a data source instance's validated configuration.
type Settings struct {
	Traces  *Store
	Logs    *Store
	Metrics *Store
}

// Store returns the configured store for a role, or nil.
func (s *Settings) Store(role Role) *Store {
	switch role {
	case RoleTraces:
		return s.Traces
	case RoleLogs:
		return s.Logs
	case RoleMetrics:
		return s.Metrics
	}
	return nil
}

// Configured lists the configured stores in role order.
func (s *Settings) Configured() []*Store {
	var out []*Store
	for _, r := range Roles {
		if st := s.Store(r); st != nil {
			out = append(out, st)
		}
	}
	return out
}

// Redact replaces every configured secret that occurs in msg. Stores sometimes
// echo request headers back in error bodies; nothing secret may reach a user.
func (s *Settings) Redact(msg string) string {
	for _, st := range s.Configured() {
		msg = st.Redact(msg)
	}
	return msg
}

// jsonStore is the jsonData shape of one store, as the ConfigEditor writes it.
type jsonStore struct {
	Kind           string          `json:"kind"`
	URL            string          `json:"url"`
	Auth           string          `json:"auth"`
	BasicAuthUser  string          `json:"basicAuthUser"`
	Tenant         string          `json:"tenant"`
	AccountID      string          `json:"accountId"`
	ProjectID      string          `json:"projectId"`
	TLSSkipVerify  bool            `json:"tlsSkipVerify"`
	TLSServerName  string          `json:"tlsServerName"`
	TimeoutSeconds json.RawMessage `json:"timeoutSeconds"`
	// LinkDatasourceUID: see Store.LinkDatasourceUID.
	LinkDatasourceUID string `json:"linkDatasourceUid"`
	// RequestDurationMetric: see Store.RequestDurationMetric.
	RequestDurationMetric string `json:"requestDurationMetric"`
}

type jsonSettings struct {
	Traces  *jsonStore `json:"traces"`
	Logs    *jsonStore `json:"logs"`
	Metrics *jsonStore `json:"metrics"`
}

// Error is an invalid-settings error naming the field at fault.
type Error struct {
	Field string
	Msg   string
}

func (e *Error) Error() string { return fmt.Sprintf("invalid setting %s: %s", e.Field, e.Msg) }

func fieldErr(field, format string, args ...any) error {
	return &Error{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// ErrNoStore is returned when no store at all is configured.
var ErrNoStore = errors.New("no store configured: set at least one of traces, logs or metrics (kind and URL)")

// Load parses and validates a data source instance's settings. Errors name the
// field at fault and are marked as downstream (the user's configuration).
func Load(cfg backend.DataSourceInstanceSettings) (*Settings, error) {
	s, err := parse(cfg.JSONData, cfg.DecryptedSecureJSONData)
	if err != nil {
		return nil, backend.DownstreamError(err)
	}
	return s, nil
}

func parse(raw json.RawMessage, secure map[string]string) (*Settings, error) {
	var js jsonSettings
	if len(strings.TrimSpace(string(raw))) > 0 {
		if err := json.Unmarshal(raw, &js); err != nil {
			return nil, fieldErr("jsonData", "not valid JSON of the expected shape: %v", err)
		}
	}
	s := &Settings{}
	var err error
	if s.Traces, err = parseStore(RoleTraces, js.Traces, secure); err != nil {
		return nil, err
	}
	if s.Logs, err = parseStore(RoleLogs, js.Logs, secure); err != nil {
		return nil, err
	}
	if s.Metrics, err = parseStore(RoleMetrics, js.Metrics, secure); err != nil {
		return nil, err
	}
	if len(s.Configured()) == 0 {
		return nil, ErrNoStore
	}
	return s, nil
}

// parseStore validates one store. A store with neither kind nor URL is "not
// configured" and yields nil.
func parseStore(role Role, js *jsonStore, secure map[string]string) (*Store, error) {
	if js == nil || (js.Kind == "" && strings.TrimSpace(js.URL) == "") {
		return nil, nil
	}
	f := func(name string) string { return string(role) + "." + name }

	st := &Store{Role: role}
	kind := Kind(strings.ToLower(strings.TrimSpace(js.Kind)))
	if kind == "" {
		return nil, fieldErr(f("kind"), "missing; choose one of %s", kindList(role))
	}
	if !kindAllowed(role, kind) {
		return nil, fieldErr(f("kind"), "unknown store kind %q; choose one of %s", js.Kind, kindList(role))
	}
	st.Kind = kind

	u, err := parseURL(js.URL)
	if err != nil {
		return nil, fieldErr(f("url"), "%v", err)
	}
	st.URL = u

	st.Auth = AuthMethod(strings.ToLower(strings.TrimSpace(js.Auth)))
	if st.Auth == "" {
		st.Auth = AuthNone
	}
	sec := storeSecrets{
		basicAuthPassword: secure[SecureKey(role, SecureBasicAuthPassword)],
		bearerToken:       secure[SecureKey(role, SecureBearerToken)],
		tlsCACert:         secure[SecureKey(role, SecureTLSCACert)],
		tlsClientCert:     secure[SecureKey(role, SecureTLSClientCert)],
		tlsClientKey:      secure[SecureKey(role, SecureTLSClientKey)],
	}
	switch st.Auth {
	case AuthNone:
	case AuthBasic:
		st.BasicAuthUser = strings.TrimSpace(js.BasicAuthUser)
		if st.BasicAuthUser == "" {
			return nil, fieldErr(f("basicAuthUser"), "required when auth is basic")
		}
		if sec.basicAuthPassword == "" {
			return nil, fieldErr("secureJsonData."+SecureKey(role, SecureBasicAuthPassword), "required when auth is basic")
		}
	case AuthBearer:
		if sec.bearerToken == "" {
			return nil, fieldErr("secureJsonData."+SecureKey(role, SecureBearerToken), "required when auth is bearer")
		}
	default:
		return nil, fieldErr(f("auth"), "unknown auth method %q; choose none, basic or bearer", js.Auth)
	}
	st.secrets = sec

	st.Tenant = strings.TrimSpace(js.Tenant)
	if st.Tenant != "" {
		if st.Kind != KindTempo && st.Kind != KindLoki && st.Kind != KindPrometheus {
			return nil, fieldErr(f("tenant"), "X-Scope-OrgID tenants apply to tempo, loki and prometheus, not %s", st.Kind)
		}
		if !validHeaderValue(st.Tenant) {
			return nil, fieldErr(f("tenant"), "must be printable ASCII without spaces")
		}
	}
	st.AccountID, st.ProjectID = strings.TrimSpace(js.AccountID), strings.TrimSpace(js.ProjectID)
	for name, v := range map[string]string{"accountId": st.AccountID, "projectId": st.ProjectID} {
		if v == "" {
			continue
		}
		if st.Kind != KindVictoriaLogs {
			return nil, fieldErr(f(name), "applies to victorialogs only, not %s", st.Kind)
		}
		if _, err := strconv.ParseUint(v, 10, 32); err != nil {
			return nil, fieldErr(f(name), "must be a number from 0 to 4294967295, got %q", v)
		}
	}

	st.TLSSkipVerify = js.TLSSkipVerify
	st.TLSServerName = strings.TrimSpace(js.TLSServerName)
	if (sec.tlsClientCert == "") != (sec.tlsClientKey == "") {
		return nil, fieldErr("secureJsonData."+SecureKey(role, SecureTLSClientKey), "a TLS client certificate and its key must be set together")
	}

	st.Timeout, err = parseTimeout(js.TimeoutSeconds)
	if err != nil {
		return nil, fieldErr(f("timeoutSeconds"), "%v", err)
	}

	st.RequestDurationMetric = strings.TrimSpace(js.RequestDurationMetric)
	switch {
	case st.RequestDurationMetric != "" && role != RoleMetrics:
		return nil, fieldErr(f("requestDurationMetric"), "applies to the metrics store only")
	case st.RequestDurationMetric == "" && role == RoleMetrics:
		st.RequestDurationMetric = DefaultRequestDurationMetric
	case role == RoleMetrics && !model.LegacyValidation.IsValidMetricName(st.RequestDurationMetric):
		return nil, fieldErr(f("requestDurationMetric"), "%q is not a Prometheus metric name", st.RequestDurationMetric)
	}

	st.LinkDatasourceUID = strings.TrimSpace(js.LinkDatasourceUID)
	if st.LinkDatasourceUID != "" {
		if role == RoleMetrics {
			return nil, fieldErr(f("linkDatasourceUid"), "links open traces and logs; the metrics store has none")
		}
		// Grafana's uid rule; the uid goes into every link as is.
		if !datasourceUID.MatchString(st.LinkDatasourceUID) {
			return nil, fieldErr(f("linkDatasourceUid"), "a Grafana data source uid is 1-40 letters, digits, - and _; got %q", st.LinkDatasourceUID)
		}
	}
	return st, nil
}

// DefaultRequestDurationMetric is the request-duration histogram the
// reference collector pipeline's span metrics write (namespace
// stitch.requests, unit ms), as Prometheus names it.
const DefaultRequestDurationMetric = "stitch_requests_duration_milliseconds"

var datasourceUID = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,40}$`)

func parseURL(raw string) (*url.URL, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, errors.New("missing; give the store's base URL, e.g. http://127.0.0.1:16686")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("not a valid URL: %v", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("scheme must be http or https, got %q", u.Scheme)
	}
	if u.Host == "" {
		return nil, errors.New("missing host")
	}
	if u.User != nil {
		return nil, errors.New("must not contain credentials; use the auth settings instead")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("must not contain a query string or fragment")
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

func parseTimeout(raw json.RawMessage) (time.Duration, error) {
	s := strings.Trim(strings.TrimSpace(string(raw)), `"`)
	if s == "" || s == "null" || s == "0" {
		return DefaultTimeout, nil
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("must be a number of seconds, got %s", raw)
	}
	d := time.Duration(n * float64(time.Second))
	if d < time.Second || d > MaxTimeout {
		return 0, fmt.Errorf("must be between 1 and %d seconds, got %s", int(MaxTimeout.Seconds()), s)
	}
	return d, nil
}

func kindAllowed(role Role, k Kind) bool {
	for _, a := range kindsByRole[role] {
		if a == k {
			return true
		}
	}
	return false
}

func kindList(role Role) string {
	var names []string
	for _, k := range kindsByRole[role] {
		names = append(names, string(k))
	}
	return strings.Join(names, " or ")
}

func validHeaderValue(v string) bool {
	for _, r := range v {
		if r <= ' ' || r > '~' {
			return false
		}
	}
	return true
}
