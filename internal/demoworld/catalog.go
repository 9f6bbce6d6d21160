package demoworld

// The fleet's static vocabulary: what the simulated app and its devices
// look like. Every value here passes schema.Validate where it is emitted.

// AppServiceName is the simulated iOS app's service.name.
const AppServiceName = "com.stitch.shop.ios"

// AppSamplingRate is the app's session sampling rate (stitch.sampling.rate).
// Below 1 so that the schema's rule samples some sessions out; the planner
// picks session IDs so that exactly the designated sessions fall out.
const AppSamplingRate = 0.9

// pseudonymKey is the demo's HMAC key for app.installation.id and user.id.
// It is a published demo constant, not a secret.
var pseudonymKey = []byte("stitch-demoworld-pseudonym-key/not-a-secret/v1")

type deviceModel struct {
	id         string
	osName     string
	osVersions []string
	networks   []Network
}

// Network is a device's connection (network.connection.type and .subtype).
type Network struct {
	Type    string
	Subtype string
}

var (
	wifi        = Network{"wifi", ""}
	lte         = Network{"cell", "lte"}
	nr          = Network{"cell", "nr"}
	nrnsa       = Network{"cell", "nrnsa"}
	wired       = Network{"wired", ""}
	unknownNet  = Network{"unknown", ""}
	unavailable = Network{"unavailable", ""}
)

var deviceModels = []deviceModel{
	{"iPhone12,8", "iOS", []string{"17.5.1", "17.6.1"}, []Network{wifi, lte}},
	{"iPhone14,5", "iOS", []string{"17.6.1", "18.1.1"}, []Network{wifi, lte, nrnsa}},
	{"iPhone15,2", "iOS", []string{"17.6.1", "18.1.1", "18.2"}, []Network{wifi, nr, lte}},
	{"iPhone15,4", "iOS", []string{"18.1.1", "18.2"}, []Network{wifi, nr}},
	{"iPhone16,1", "iOS", []string{"18.1.1", "18.2", "18.3.1"}, []Network{wifi, nr, unknownNet}},
	{"iPhone16,2", "iOS", []string{"18.2", "18.3.1"}, []Network{wifi, nr, nrnsa}},
	{"iPhone17,3", "iOS", []string{"18.3.1"}, []Network{wifi, nr}},
	{"iPad13,18", "iPadOS", []string{"17.7", "18.2"}, []Network{wifi, wired}},
}

var appVersions = []string{"4.12.0", "4.13.0", "4.13.1+2211"}

var userTiers = []string{"free", "free", "plus", "enterprise"}

var searchTerms = []string{"red+shoes", "rain+jacket", "usb-c+cable", "espresso", "desk+lamp", "trail+socks"}

// Actions (stitch.action.name) and the screens (app.screen.name) they
// happen on.
const (
	actViewCatalog     = "view.catalog"
	actRefreshCatalog  = "refresh.catalog"
	actSearch          = "tap.search.submit"
	actViewOrders      = "view.orders"
	actOpenOrder       = "tap.orders.open"
	actCheckout        = "tap.checkout.pay"
	actBackgroundFetch = "background_fetch.orders"
)

var actionScreen = map[string]string{
	actViewCatalog:    "CatalogView",
	actRefreshCatalog: "CatalogView",
	actSearch:         "SearchView",
	actViewOrders:     "OrderListViewController",
	actOpenOrder:      "OrderDetailViewController",
	actCheckout:       "CheckoutView",
}

// randomActions are what users do, with weights.
var randomActions = []struct {
	name   string
	weight int
}{
	{actViewCatalog, 28}, {actRefreshCatalog, 10}, {actSearch, 8}, {actViewOrders, 15}, {actOpenOrder, 22}, {actCheckout, 17},
}
