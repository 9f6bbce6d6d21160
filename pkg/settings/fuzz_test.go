package settings

import (
	"errors"
	"strings"
	"testing"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
)

// settingsSeeds are jsonData documents as the ConfigEditor writes them, and
// hand-edited or provisioned ones that are not quite right.
var settingsSeeds = []string{
	`{"traces":{"kind":"jaeger","url":"http://127.0.0.1:16686"},"logs":{"kind":"victorialogs","url":"http://127.0.0.1:9428","accountId":"1","projectId":"2"},"metrics":{"kind":"prometheus","url":"http://127.0.0.1:9090/"}}`,
	`{"traces":{"kind":"tempo","url":"https://tempo.example.com/prefix/","auth":"bearer","tenant":"tenant-1","timeoutSeconds":"45","linkDatasourceUid":"tempo_uid-1"}}`,
	`{"logs":{"kind":"Loki","url":"http://loki:3100","auth":"basic","basicAuthUser":"stitch","tlsSkipVerify":true,"tlsServerName":"loki","timeoutSeconds":2.5}}`,
	`{"traces":{"kind":"zipkin","url":"http://x"}}`,
	`{"traces":{"kind":"jaeger","url":"ftp://x"},"logs":{"url":"http://user:pw@x?q=1#f"}}`,
	`{"metrics":{"kind":"prometheus","url":"http://x","timeoutSeconds":"9999"}}`,
	`{"metrics":{"kind":"prometheus","url":"http://x","linkDatasourceUid":"p"}}`,
	`{"logs":{"kind":"victorialogs","url":"http://x","accountId":"-1","tenant":"t"}}`,
	`{"traces":{"kind":"tempo","url":"http://x","tenant":"two words"}}`,
	`{"traces":{"kind":"jaeger","url":"http://x","auth":"oauth"}}`,
	`{"traces":1}`, `{}`, `[]`, ``, `null`, `{`,
}

// FuzzLoad: any jsonData and secrets either load into settings whose every
// store is usable (an http(s) base URL with a host, a known kind and auth
// with its secret, a bounded timeout) or fail with a downstream error that
// names the field at fault.
func FuzzLoad(f *testing.F) {
	for _, s := range settingsSeeds {
		f.Add([]byte(s), "", "", "", "")
		f.Add([]byte(s), "s3cret-pw", "token-1234", "", "")
	}
	f.Add([]byte(settingsSeeds[0]), "", "", "-----BEGIN CERTIFICATE-----", "")
	f.Fuzz(func(t *testing.T, jsonData []byte, password, token, clientCert, clientKey string) {
		secure := map[string]string{}
		for _, r := range Roles {
			secure[SecureKey(r, SecureBasicAuthPassword)] = password
			secure[SecureKey(r, SecureBearerToken)] = token
			secure[SecureKey(r, SecureTLSClientCert)] = clientCert
			secure[SecureKey(r, SecureTLSClientKey)] = clientKey
		}
		s, err := Load(backend.DataSourceInstanceSettings{JSONData: jsonData, DecryptedSecureJSONData: secure})
		if err != nil {
			checkSettingsError(t, jsonData, err)
			return
		}
		if len(s.Configured()) == 0 {
			t.Fatalf("%q: settings without a store and no error", jsonData)
		}
		for _, r := range Roles {
			st := s.Store(r)
			if st == nil {
				continue
			}
			checkStore(t, jsonData, st)
		}
		// Secrets never survive redaction (except those "[redacted]" itself
		// may spell, and short ones that would redact ordinary words).
		for _, secret := range []string{password, token, clientKey} {
			if len(secret) < 4 || strings.Contains("[redacted]", secret) || strings.ContainsAny(secret, "[]") {
				continue
			}
			usedBy := false
			for _, st := range s.Configured() {
				usedBy = usedBy || (st.Auth == AuthBasic && secret == password) || (st.Auth == AuthBearer && secret == token) ||
					secret == clientKey
			}
			if usedBy && strings.Contains(s.Redact("error: "+secret+"."), secret) {
				t.Fatalf("%q: secret %q survives redaction", jsonData, secret)
			}
		}
	})
}

func checkSettingsError(t *testing.T, jsonData []byte, err error) {
	t.Helper()
	if !backend.IsDownstreamError(err) {
		t.Fatalf("%q: %v is not marked as the configuration's fault", jsonData, err)
	}
	if errors.Is(err, ErrNoStore) {
		return
	}
	var se *Error
	if !errors.As(err, &se) {
		t.Fatalf("%q: error %T %v names no field", jsonData, err, err)
	}
	field := se.Field
	switch {
	case field == "jsonData":
		return
	case strings.HasPrefix(field, "secureJsonData."):
		field = strings.TrimPrefix(field, "secureJsonData.")
		for _, r := range Roles {
			for _, k := range []string{SecureBasicAuthPassword, SecureBearerToken, SecureTLSClientKey} {
				if field == SecureKey(r, k) {
					return
				}
			}
		}
	default:
		role, name, _ := strings.Cut(field, ".")
		known := map[string]bool{"kind": true, "url": true, "auth": true, "basicAuthUser": true, "tenant": true, "accountId": true,
			"projectId": true, "timeoutSeconds": true, "linkDatasourceUid": true}
		if (Role(role) == RoleTraces || Role(role) == RoleLogs || Role(role) == RoleMetrics) && known[name] {
			return
		}
	}
	t.Fatalf("%q: error %q names field %q, not a setting", jsonData, se.Error(), se.Field)
}

func checkStore(t *testing.T, jsonData []byte, st *Store) {
	t.Helper()
	fail := func(what string) { t.Fatalf("%q: %s store: %s (%+v)", jsonData, st.Role, what, st) }
	if !kindAllowed(st.Role, st.Kind) {
		fail("kind not allowed")
	}
	u := st.URL
	if u == nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" ||
		u.Fragment != "" || strings.HasSuffix(u.Path, "/") {
		fail("not a base URL")
	}
	switch st.Auth {
	case AuthNone:
	case AuthBasic:
		if st.BasicAuthUser == "" || st.secrets.basicAuthPassword == "" {
			fail("basic auth without user or password")
		}
	case AuthBearer:
		if st.secrets.bearerToken == "" {
			fail("bearer auth without token")
		}
	default:
		fail("unknown auth")
	}
	if st.Timeout < 1e9 || st.Timeout > MaxTimeout {
		fail("timeout out of bounds")
	}
	if st.Tenant != "" && !validHeaderValue(st.Tenant) {
		fail("tenant is not a header value")
	}
	if st.LinkDatasourceUID != "" && (st.Role == RoleMetrics || !datasourceUID.MatchString(st.LinkDatasourceUID)) {
		fail("link data source uid")
	}
	if (st.secrets.tlsClientCert == "") != (st.secrets.tlsClientKey == "") {
		fail("TLS client certificate without key")
	}
	// The client options are built from every valid store.
	opts := st.HTTPClientOptions()
	if st.Tenant != "" && opts.Header.Get("X-Scope-OrgID") != st.Tenant {
		fail("tenant header missing")
	}
	if opts.Timeouts.Timeout != st.Timeout {
		fail("client timeout differs")
	}
}
