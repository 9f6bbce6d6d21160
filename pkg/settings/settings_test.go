package settings

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func load(t *testing.T, jsonData string, secure map[string]string) (*Settings, error) {
	t.Helper()
	return Load(backend.DataSourceInstanceSettings{JSONData: json.RawMessage(jsonData), DecryptedSecureJSONData: secure})
}

const fullJSON = `{
  "traces":  {"kind": "jaeger", "url": "http://127.0.0.1:16686/", "timeoutSeconds": 12, "linkDatasourceUid": "jaeger-main"},
  "logs":    {"kind": "victorialogs", "url": "http://127.0.0.1:9428", "auth": "bearer", "accountId": "7", "projectId": "0"},
  "metrics": {"kind": "prometheus", "url": "https://prom.example:9090/prefix", "auth": "basic", "basicAuthUser": "sre", "tenant": "team-a"}
}`

func TestLoadValid(t *testing.T) {
	s, err := load(t, fullJSON, map[string]string{
		"logsBearerToken":          "tok-logs",
		"metricsBasicAuthPassword": "pw-metrics",
	})
	require.NoError(t, err)
	require.Len(t, s.Configured(), 3)

	assert.Equal(t, KindJaeger, s.Traces.Kind)
	assert.Equal(t, "http://127.0.0.1:16686", s.Traces.URL.String(), "trailing slash trimmed")
	assert.Equal(t, 12*time.Second, s.Traces.Timeout)
	assert.Equal(t, AuthNone, s.Traces.Auth)
	assert.Equal(t, "jaeger-main", s.Traces.LinkDatasourceUID)
	assert.Empty(t, s.Logs.LinkDatasourceUID, "no link data source unless chosen")

	assert.Equal(t, KindVictoriaLogs, s.Logs.Kind)
	assert.Equal(t, DefaultTimeout, s.Logs.Timeout)
	o := s.Logs.HTTPClientOptions()
	assert.Equal(t, "Bearer tok-logs", o.Header.Get("Authorization"))
	assert.Equal(t, "7", o.Header.Get("AccountID"))
	assert.Equal(t, "0", o.Header.Get("ProjectID"))
	assert.Nil(t, o.TLS, "plain http with no TLS settings needs no TLS options")

	assert.Equal(t, "prom.example:9090", s.Metrics.Host())
	m := s.Metrics.HTTPClientOptions()
	require.NotNil(t, m.BasicAuth)
	assert.Equal(t, "sre", m.BasicAuth.User)
	assert.Equal(t, "pw-metrics", m.BasicAuth.Password)
	assert.Equal(t, "team-a", m.Header.Get("X-Scope-OrgID"))
	require.NotNil(t, m.TLS)
	assert.False(t, m.TLS.InsecureSkipVerify, "skip-verify is off unless asked for")
}

func TestLoadOnlyOneStore(t *testing.T) {
	s, err := load(t, `{"logs":{"kind":"loki","url":"http://loki:3100","tenant":"t1"}}`, nil)
	require.NoError(t, err)
	assert.Nil(t, s.Traces)
	assert.Nil(t, s.Metrics)
	assert.Equal(t, "t1", s.Logs.HTTPClientOptions().Header.Get("X-Scope-OrgID"))
}

func TestLoadTLSFromSecureData(t *testing.T) {
	s, err := load(t, `{"traces":{"kind":"tempo","url":"https://tempo:3200","tlsServerName":"tempo.internal"}}`, map[string]string{
		"tracesTLSCACert":     "CA-PEM",
		"tracesTLSClientCert": "CERT-PEM",
		"tracesTLSClientKey":  "KEY-PEM",
	})
	require.NoError(t, err)
	o := s.Traces.HTTPClientOptions()
	require.NotNil(t, o.TLS)
	assert.Equal(t, "CA-PEM", o.TLS.CACertificate)
	assert.Equal(t, "CERT-PEM", o.TLS.ClientCertificate)
	assert.Equal(t, "KEY-PEM", o.TLS.ClientKey)
	assert.Equal(t, "tempo.internal", o.TLS.ServerName)
}

// Secrets are read from decrypted secure data only: the same names in
// jsonData are ignored.
func TestSecretsOnlyFromSecureData(t *testing.T) {
	_, err := load(t, `{"traces":{"kind":"jaeger","url":"http://j:16686","auth":"bearer","bearerToken":"in-json","tracesBearerToken":"in-json"}}`, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "secureJsonData.tracesBearerToken")

	_, err = load(t, `{"traces":{"kind":"jaeger","url":"http://j:16686","auth":"basic","basicAuthUser":"u","basicAuthPassword":"in-json"}}`, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "secureJsonData.tracesBasicAuthPassword")
}

func TestLoadInvalidNamesTheField(t *testing.T) {
	cases := []struct {
		name, json string
		secure     map[string]string
		field      string
	}{
		{"no store", `{}`, nil, "no store configured"},
		{"empty jsonData", ``, nil, "no store configured"},
		{"not json", `{"traces":`, nil, "jsonData"},
		{"unknown trace kind", `{"traces":{"kind":"zipkin","url":"http://z"}}`, nil, "traces.kind"},
		{"log kind on traces", `{"traces":{"kind":"loki","url":"http://z"}}`, nil, "traces.kind"},
		{"unknown log kind", `{"logs":{"kind":"elastic","url":"http://z"}}`, nil, "logs.kind"},
		{"unknown metrics kind", `{"metrics":{"kind":"graphite","url":"http://z"}}`, nil, "metrics.kind"},
		{"missing kind", `{"logs":{"url":"http://z"}}`, nil, "logs.kind"},
		{"missing url", `{"metrics":{"kind":"prometheus"}}`, nil, "metrics.url"},
		{"bad scheme", `{"metrics":{"kind":"prometheus","url":"ftp://p"}}`, nil, "metrics.url"},
		{"no host", `{"metrics":{"kind":"prometheus","url":"http://"}}`, nil, "metrics.url"},
		{"credentials in url", `{"metrics":{"kind":"prometheus","url":"http://u:p@h:9090"}}`, nil, "metrics.url"},
		{"query in url", `{"metrics":{"kind":"prometheus","url":"http://h:9090/?x=1"}}`, nil, "metrics.url"},
		{"unknown auth", `{"traces":{"kind":"jaeger","url":"http://j","auth":"oauth"}}`, nil, "traces.auth"},
		{"basic without user", `{"traces":{"kind":"jaeger","url":"http://j","auth":"basic"}}`, map[string]string{"tracesBasicAuthPassword": "x"}, "traces.basicAuthUser"},
		{"basic without password", `{"traces":{"kind":"jaeger","url":"http://j","auth":"basic","basicAuthUser":"u"}}`, nil, "secureJsonData.tracesBasicAuthPassword"},
		{"bearer without token", `{"logs":{"kind":"loki","url":"http://l","auth":"bearer"}}`, nil, "secureJsonData.logsBearerToken"},
		{"tenant on jaeger", `{"traces":{"kind":"jaeger","url":"http://j","tenant":"t"}}`, nil, "traces.tenant"},
		{"tenant with space", `{"traces":{"kind":"tempo","url":"http://t","tenant":"a b"}}`, nil, "traces.tenant"},
		{"accountId on loki", `{"logs":{"kind":"loki","url":"http://l","accountId":"1"}}`, nil, "logs.accountId"},
		{"accountId not a number", `{"logs":{"kind":"victorialogs","url":"http://l","accountId":"x"}}`, nil, "logs.accountId"},
		{"projectId too big", `{"logs":{"kind":"victorialogs","url":"http://l","projectId":"4294967296"}}`, nil, "logs.projectId"},
		{"client cert without key", `{"traces":{"kind":"tempo","url":"https://t"}}`, map[string]string{"tracesTLSClientCert": "c"}, "secureJsonData.tracesTLSClientKey"},
		{"timeout not a number", `{"traces":{"kind":"tempo","url":"http://t","timeoutSeconds":"soon"}}`, nil, "traces.timeoutSeconds"},
		{"timeout too long", `{"traces":{"kind":"tempo","url":"http://t","timeoutSeconds":100000}}`, nil, "traces.timeoutSeconds"},
		{"timeout negative", `{"traces":{"kind":"tempo","url":"http://t","timeoutSeconds":-1}}`, nil, "traces.timeoutSeconds"},
		{"link uid with a quote", `{"logs":{"kind":"loki","url":"http://l","linkDatasourceUid":"a\"b"}}`, nil, "logs.linkDatasourceUid"},
		{"link uid too long", `{"traces":{"kind":"tempo","url":"http://t","linkDatasourceUid":"` + strings.Repeat("a", 41) + `"}}`, nil, "traces.linkDatasourceUid"},
		{"link uid on metrics", `{"metrics":{"kind":"prometheus","url":"http://p","linkDatasourceUid":"prom"}}`, nil, "metrics.linkDatasourceUid"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := load(t, c.json, c.secure)
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.field)
			assert.True(t, backend.IsDownstreamError(err), "settings errors are the user's to fix: %v", err)
			var se *Error
			if errors.As(err, &se) {
				assert.Equal(t, c.field, se.Field)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	s, err := load(t, fullJSON, map[string]string{"logsBearerToken": "canary-token-123", "metricsBasicAuthPassword": "canary-pw-456"})
	require.NoError(t, err)
	got := s.Redact(`401: bad header "Bearer canary-token-123" and canary-pw-456`)
	assert.NotContains(t, got, "canary-token-123")
	assert.NotContains(t, got, "canary-pw-456")
	assert.Equal(t, 2, strings.Count(got, "[redacted]"))
}

// The request-duration histogram the latency breakdown and exemplar
// sessions read: the reference pipeline's by default, any Prometheus
// metric name the user gives, refused elsewhere.
func TestRequestDurationMetric(t *testing.T) {
	s, err := load(t, `{"metrics": {"kind": "prometheus", "url": "http://127.0.0.1:9090"}}`, nil)
	require.NoError(t, err)
	assert.Equal(t, DefaultRequestDurationMetric, s.Metrics.RequestDurationMetric)

	s, err = load(t, `{"metrics": {"kind": "prometheus", "url": "http://127.0.0.1:9090", "requestDurationMetric": " http_client_request_duration_seconds "}}`, nil)
	require.NoError(t, err)
	assert.Equal(t, "http_client_request_duration_seconds", s.Metrics.RequestDurationMetric)

	for _, bad := range []string{`requests{job=\"x\"}`, "1st", "a-b", "m) or vector(1"} {
		_, err = load(t, `{"metrics": {"kind": "prometheus", "url": "http://127.0.0.1:9090", "requestDurationMetric": "`+bad+`"}}`, nil)
		require.Error(t, err, bad)
		assert.Contains(t, err.Error(), "metrics.requestDurationMetric", bad)
	}
	_, err = load(t, `{"traces": {"kind": "jaeger", "url": "http://127.0.0.1:16686", "requestDurationMetric": "m"}}`, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "applies to the metrics store only")
}
