package scaleworld

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/stitch-observability/stitch/pkg/schema"
)

// The scale world's vocabulary. Nothing here is shared with the demo world
// (internal/demoworld): its own app, services, hosts, endpoints, versions,
// devices and latency distributions, so both worlds can sit in the same
// stores and be told apart by service name.

// DefaultApp is the app's service.name when Config.App is empty.
const DefaultApp = "scale-ios"

// SamplingRate is the app's session sampling rate: every session is kept.
const SamplingRate = 1.0

// LatencyThresholdMs is the schema's default latency threshold, used for
// the sampling reason of slow requests.
const LatencyThresholdMs = 3000

// RequestHistogram is the request-duration histogram as Prometheus names
// what the reference collector's span-metrics connector writes (namespace
// stitch.requests, unit ms).
const RequestHistogram = "stitch_requests_duration_milliseconds"

// HistogramBounds are the explicit bucket bounds (ms) of the reference
// collector's span_metrics connector (deploy/collector/stitch-collector.yaml).
var HistogramBounds = []float64{5, 10, 25, 50, 100, 250, 500, 750, 1000, 1500, 2000, 2500, 3000, 3500, 4000, 5000, 7500, 10000, 30000}

// Backend service roles; a service's name is "<app>-<role>".
const (
	roleGateway  = "gateway"
	roleCatalog  = "catalog"
	roleSearch   = "search"
	roleOrders   = "orders"
	roleAccounts = "accounts"
	roleMedia    = "media"
)

var roles = []string{roleGateway, roleCatalog, roleSearch, roleOrders, roleAccounts, roleMedia}

var serviceVersions = map[string]string{
	roleGateway: "3.8.2", roleCatalog: "5.1.0", roleSearch: "2.0.7", roleOrders: "9.4.1", roleAccounts: "1.22.0", roleMedia: "0.9.3",
}

// child is an operation a backend service does inside a request.
type child struct {
	name     string
	internal bool // INTERNAL, else CLIENT
}

var roleChildren = map[string][]child{
	roleGateway:  {{"jwt.verify", true}, {"ratelimit.check", false}, {"route.resolve", true}},
	roleCatalog:  {{"SELECT products", false}, {"cache GET product", false}, {"feed.rank", true}},
	roleSearch:   {{"index.query", false}, {"results.merge", true}, {"synonyms.expand", true}},
	roleOrders:   {{"INSERT purchase", false}, {"basket.price", true}, {"POST psp/authorize", false}},
	roleAccounts: {{"SELECT account", false}, {"prefs.merge", true}, {"cache SET account", false}},
	roleMedia:    {{"image.transcode", true}, {"PUT blob", false}, {"thumbnail.render", true}},
}

// endpointSpec is one API call the app makes.
type endpointSpec struct {
	method   string
	template string
	role     string
	// Server latency: lognormal with this median (ms) and sigma.
	medianMs float64
	sigma    float64
	weight   int
}

var endpointSpecs = []endpointSpec{
	{"GET", "/v2/home/feed", roleCatalog, 85, 0.45, 22},
	{"GET", "/v2/products/{id}", roleCatalog, 40, 0.40, 20},
	{"GET", "/v2/products/search", roleSearch, 180, 0.60, 10},
	{"POST", "/v2/basket/lines", roleOrders, 110, 0.50, 9},
	{"POST", "/v2/purchases", roleOrders, 420, 0.55, 5},
	{"GET", "/v2/purchases/{id}/tracking", roleOrders, 70, 0.50, 6},
	{"GET", "/v2/account/me", roleAccounts, 30, 0.35, 12},
	{"PATCH", "/v2/account/preferences", roleAccounts, 95, 0.40, 3},
	{"POST", "/v2/auth/refresh", roleGateway, 25, 0.30, 8},
	{"GET", "/v2/config/flags", roleGateway, 12, 0.30, 2},
	{"POST", "/v2/photos", roleMedia, 950, 0.70, 3},
}

// Device vocabulary (iPhones only: os.name is iOS).
var (
	appVersions = []weighted{{"7.2.0", 20}, {"7.3.0", 45}, {"7.3.1+5120", 35}}
	osVersions  = []weighted{{"17.7.2", 15}, {"18.4", 25}, {"18.6.2", 40}, {"26.0.1", 20}}
	models      = []weighted{{"iPhone13,2", 12}, {"iPhone14,3", 18}, {"iPhone14,7", 22}, {"iPhone16,2", 25}, {"iPhone17,1", 15}, {"iPhone17,4", 8}}
	networks    = []weighted{{"wifi", 56}, {"cell", 40}, {"unknown", 4}}
	// Why sessions start (stitch.session.start_reason).
	startReasons = []weighted{{"first", 30}, {"background_timeout", 62}, {"max_duration", 6}, {"clock_regression", 2}}
)

type weighted struct {
	v string
	w int
}

const (
	osName    = "iOS"
	consent   = "granted"
	scopeApp  = "scaleworld.app"
	scopeBack = "scaleworld.backend"
)

// Failure kinds of a request.
const (
	FailureNone           = ""
	FailureServer         = "server_5xx"
	FailureTimeout        = "timeout"
	FailureConnectionLost = "connection_lost"
)

const (
	errTypeTimeout        = "NSURLErrorDomain.-1001"
	errTypeConnectionLost = "NSURLErrorDomain.-1005"
	clientTimeoutMs       = 15000
)

var serviceNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// Endpoint is one API endpoint of the world, resolved for an app.
type Endpoint struct {
	Method        string `json:"method"`
	URLTemplate   string `json:"url_template"`
	Service       string `json:"service"`
	ServerAddress string `json:"server_address"`
	// Key is "METHOD url.template".
	Key string `json:"key"`

	spec endpointSpec
}

// ServiceName is a backend service's name for an app.
func ServiceName(app, role string) string { return app + "-" + role }

// BackendServices are the app's backend service names.
func BackendServices(app string) []string {
	out := make([]string, len(roles))
	for i, r := range roles {
		out[i] = ServiceName(app, r)
	}
	return out
}

// serverAddress is the app's API host: "api.<app, as a DNS label>.example".
func serverAddress(app string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(app) {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			b.WriteRune(c)
		default:
			b.WriteByte('-')
		}
	}
	label := strings.Trim(b.String(), "-")
	if len(label) > 63 {
		label = strings.Trim(label[:63], "-")
	}
	if label == "" {
		label = "app"
	}
	return "api." + label + ".example"
}

func checkApp(app string) error {
	if !serviceNameRE.MatchString(app) || len(app)+len("-accounts") > 128 {
		return fmt.Errorf("scaleworld: app name %q is not a valid service.name (letters, digits, '.', '_', '-'; at most 119 characters)", app)
	}
	if err := schema.Validate(schema.AttrServiceName, app); err != nil {
		return fmt.Errorf("scaleworld: app name: %w", err)
	}
	return nil
}

func endpointsFor(app string) []Endpoint {
	host := serverAddress(app)
	out := make([]Endpoint, len(endpointSpecs))
	for i, s := range endpointSpecs {
		out[i] = Endpoint{Method: s.method, URLTemplate: s.template, Service: ServiceName(app, s.role), ServerAddress: host, Key: s.method + " " + s.template, spec: s}
	}
	return out
}
