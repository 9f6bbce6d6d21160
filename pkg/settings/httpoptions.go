package settings

import (
	"net/http"

	"github.com/grafana/grafana-plugin-sdk-go/backend/httpclient"
)

// HTTPClientOptions turns a store's settings into the SDK's HTTP client
// options: auth, tenant headers, TLS and timeouts. Secrets leave the settings
// only through here.
func (s *Store) HTTPClientOptions() httpclient.Options {
	timeouts := httpclient.DefaultTimeoutOptions
	timeouts.Timeout = s.Timeout
	if timeouts.DialTimeout > s.Timeout {
		timeouts.DialTimeout = s.Timeout
	}
	opts := httpclient.Options{
		Timeouts: &timeouts,
		Header:   http.Header{},
		Labels:   map[string]string{"store": string(s.Role), "kind": string(s.Kind)},
	}
	switch s.Auth {
	case AuthBasic:
		opts.BasicAuth = &httpclient.BasicAuthOptions{User: s.BasicAuthUser, Password: s.secrets.basicAuthPassword}
	case AuthBearer:
		opts.Header.Set("Authorization", "Bearer "+s.secrets.bearerToken)
	}
	if s.Tenant != "" {
		opts.Header.Set("X-Scope-OrgID", s.Tenant)
	}
	if s.AccountID != "" {
		opts.Header.Set("AccountID", s.AccountID)
	}
	if s.ProjectID != "" {
		opts.Header.Set("ProjectID", s.ProjectID)
	}
	if s.URL.Scheme == "https" || s.secrets.tlsCACert != "" || s.secrets.tlsClientCert != "" || s.TLSSkipVerify {
		opts.TLS = &httpclient.TLSOptions{
			CACertificate:      s.secrets.tlsCACert,
			ClientCertificate:  s.secrets.tlsClientCert,
			ClientKey:          s.secrets.tlsClientKey,
			InsecureSkipVerify: s.TLSSkipVerify,
			ServerName:         s.TLSServerName,
		}
	}
	return opts
}
