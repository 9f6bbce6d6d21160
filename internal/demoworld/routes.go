package demoworld

import (
	"hash/fnv"
	"net/http"
	"strconv"
	"time"
)

// This file is the contract between the planner and the backend services:
// which services an app request reaches, how long each one takes, which
// spans and log records each one writes and which status the app gets back.
// The handlers in services.go do exactly this; the planner predicts it with
// backendOutcome. Keep the two in step (the executor test and the
// integration test count both sides).

// Logical hosts. The app and the services only ever address these names; a
// dialer maps them to the services' loopback listeners.
const (
	hostAPI       = "api.shop.example"
	hostLegacy    = "legacy-catalog.shop.example"
	hostOrders    = "orders.internal"
	hostInventory = "inventory.internal"
	hostPayments  = "payments.internal"
)

// Backend services (service.name).
const (
	svcGateway   = "gateway"
	svcOrders    = "orders"
	svcInventory = "inventory"
	svcPayments  = "payments"
	svcLegacy    = "legacy-catalog"
)

// serviceVersions are the backends' service.version values.
var serviceVersions = map[string]string{
	svcGateway: "2.14.3", svcOrders: "5.2.0", svcInventory: "3.8.1", svcPayments: "1.19.0", svcLegacy: "0.9.7",
}

// backendServices lists the backend services in a fixed order.
var backendServices = []string{svcGateway, svcOrders, svcInventory, svcPayments, svcLegacy}

// serviceHost is where each service listens (logical host, port 80).
var serviceHost = map[string]string{
	svcGateway: hostAPI, svcOrders: hostOrders, svcInventory: hostInventory, svcPayments: hostPayments, svcLegacy: hostLegacy,
}

// endpoint is one kind of request the app makes.
type endpoint string

const (
	epCatalog    endpoint = "catalog"
	epSearch     endpoint = "search"
	epOrder      endpoint = "order"
	epUserOrders endpoint = "user_orders"
	epCheckout   endpoint = "checkout"
	epPayment    endpoint = "payment"
	epPromotions endpoint = "promotions"
)

// endpointSpec is what the app sees of an endpoint.
type endpointSpec struct {
	method   string
	host     string
	template string // the url.template the raw URL must produce
}

var endpoints = map[endpoint]endpointSpec{
	epCatalog:    {http.MethodGet, hostAPI, "/v1/catalog/items"},
	epSearch:     {http.MethodGet, hostAPI, "/v1/search"},
	epOrder:      {http.MethodGet, hostAPI, "/v1/orders/{id}"},
	epUserOrders: {http.MethodGet, hostAPI, "/v1/users/{id}/orders"},
	epCheckout:   {http.MethodPost, hostAPI, "/v1/checkout"},
	epPayment:    {http.MethodPost, hostAPI, "/v1/payments"},
	epPromotions: {http.MethodGet, hostLegacy, "/catalog/v1/promotions"},
}

// Gateway routes (app-facing) and the downstream call each one makes.
type gatewayRoute struct {
	ep         endpoint
	pattern    string // ServeMux pattern on the gateway
	downstream string // service
	method     string
	path       func(r *http.Request) string
}

var gatewayRoutes = []gatewayRoute{
	{epCatalog, "GET /v1/catalog/items", svcInventory, http.MethodGet, func(*http.Request) string { return "/items" }},
	{epSearch, "GET /v1/search", svcInventory, http.MethodGet, func(r *http.Request) string { return "/search?" + r.URL.RawQuery }},
	{epOrder, "GET /v1/orders/{id}", svcOrders, http.MethodGet, func(r *http.Request) string { return "/orders/" + r.PathValue("id") }},
	{epUserOrders, "GET /v1/users/{id}/orders", svcOrders, http.MethodGet, func(r *http.Request) string { return "/users/" + r.PathValue("id") + "/orders" }},
	{epCheckout, "POST /v1/checkout", svcOrders, http.MethodPost, func(*http.Request) string { return "/orders" }},
	{epPayment, "POST /v1/payments", svcPayments, http.MethodPost, func(*http.Request) string { return "/charges" }},
}

// Fault parameters.
const (
	// ordersInventoryTimeout is how long orders waits for an inventory
	// reservation before giving up (the cascade's first link).
	ordersInventoryTimeout = 700 * time.Millisecond
	// lockWaitLimit bounds how long inventory holds a poisoned reservation
	// if its caller never goes away.
	lockWaitLimit = 3 * time.Second
	// missingOrderFrom: order IDs from here up do not exist (404).
	missingOrderFrom = 900000
	// slowSearchMinMs/slowSearchJitterMs make inventory's search the slow
	// endpoint, above the schema's 3000 ms latency threshold.
	slowSearchMinMs    = 3300
	slowSearchJitterMs = 600
)

// Log record bodies, shared by the handlers and the planner.
const (
	msgProxied          = "request proxied"
	msgUpstreamNotFound = "upstream answered not found"
	msgUpstreamBusy     = "upstream unavailable"
	msgBadGateway       = "bad gateway: upstream failed"
	msgOrderLoaded      = "order loaded"
	msgOrderMissing     = "order not found"
	msgOrdersListed     = "orders listed"
	msgOrderCreated     = "order created"
	msgReservationFail  = "inventory reservation failed"
	msgCatalogServed    = "catalog served"
	msgSlowSearch       = "slow search query"
	msgStockReserved    = "stock reserved"
	msgLockWait         = "waiting for row lock"
	msgReservationAbort = "reservation aborted"
	msgChargeCaptured   = "charge captured"
	msgProviderDown     = "payment provider unavailable"
	msgPromotions       = "promotions served"
)

// Severity texts as the slog bridge writes them.
const (
	sevInfo  = "INFO"
	sevWarn  = "WARN"
	sevError = "ERROR"
)

// delayMs is a service's simulated work for one request: a pure function of
// the service, the endpoint and the trace ID, so the planner knows it too.
func delayMs(service string, ep endpoint, traceID string) int64 {
	h := fnv.New64a()
	h.Write([]byte(service + "|" + string(ep) + "|" + traceID))
	v := int64(h.Sum64() % 1_000_003)
	switch {
	case service == svcGateway:
		return 2 + v%6
	case service == svcInventory && ep == epSearch:
		return slowSearchMinMs + v%slowSearchJitterMs
	case service == svcInventory:
		return 3 + v%12
	case service == svcOrders:
		return 4 + v%16
	case service == svcPayments:
		return 20 + v%60
	case service == svcLegacy:
		return 30 + v%90
	}
	return 1
}

func delay(service string, ep endpoint, traceID string) time.Duration {
	return time.Duration(delayMs(service, ep, traceID)) * time.Millisecond
}

// backendInput is what decides one attempt's fate on the backends.
type backendInput struct {
	ep       endpoint
	traceID  string // the trace the backends see (the legacy host's own)
	orderID  int    // epOrder
	poisoned bool   // epCheckout with the poisoned SKU
	failing  bool   // epPayment attempt the flaky provider fails
}

// plannedLog is one backend log record.
type plannedLog struct {
	service, severity, body string
}

// Served is one request a service answered: one observation of its
// http.server.request.duration histogram, in the series of this route and
// status.
type Served struct {
	Service string `json:"service"`
	Route   string `json:"route"`
	Status  int    `json:"status"`
}

// backendOutcome is what the backends do for one attempt.
type backendOutcome struct {
	status   int            // the status the app receives
	spans    map[string]int // spans per service
	logs     []plannedLog   // in the order written
	served   []Served       // in the order the services were called
	serverMs int64          // simulated work along the path (a lower bound of latency)
}

// Backend routes (http.route) of the services behind the gateway.
var backendRoute = map[endpoint]string{
	epCatalog: "/items", epSearch: "/search", epOrder: "/orders/{id}", epUserOrders: "/users/{id}/orders",
	epCheckout: "/orders", epPayment: "/charges", epPromotions: "/catalog/v1/promotions",
}

// outcomeFor predicts the backends' behaviour for one attempt.
func outcomeFor(in backendInput) backendOutcome {
	o := backendOutcome{spans: map[string]int{}}
	// part adds one service's work: its spans, its records, its RED
	// observation.
	part := func(svc, route string, status int, spans int, logs ...plannedLog) {
		o.spans[svc] += spans
		o.logs = append(o.logs, logs...)
		o.served = append(o.served, Served{svc, route, status})
	}
	lg := func(svc, sev, body string) plannedLog { return plannedLog{svc, sev, body} }
	// gateway adds the gateway's part after its downstream's: a server span
	// and a client span, and one record written once the downstream
	// answered.
	gateway := func(downstream int) {
		o.serverMs += delayMs(svcGateway, in.ep, in.traceID)
		o.status = gatewayStatus(downstream)
		var l plannedLog
		switch {
		case o.status < 400:
			l = lg(svcGateway, sevInfo, msgProxied)
		case o.status == http.StatusNotFound:
			l = lg(svcGateway, sevWarn, msgUpstreamNotFound)
		case o.status == http.StatusServiceUnavailable:
			l = lg(svcGateway, sevWarn, msgUpstreamBusy)
		default:
			l = lg(svcGateway, sevError, msgBadGateway)
		}
		part(svcGateway, endpoints[in.ep].template, o.status, 2, l)
		// The gateway is called first.
		o.served = append([]Served{o.served[len(o.served)-1]}, o.served[:len(o.served)-1]...)
	}
	route := backendRoute[in.ep]
	switch in.ep {
	case epCatalog:
		o.serverMs += delayMs(svcInventory, in.ep, in.traceID)
		part(svcInventory, route, http.StatusOK, 1, lg(svcInventory, sevInfo, msgCatalogServed))
		gateway(http.StatusOK)
	case epSearch:
		o.serverMs += delayMs(svcInventory, in.ep, in.traceID)
		part(svcInventory, route, http.StatusOK, 1, lg(svcInventory, sevWarn, msgSlowSearch))
		gateway(http.StatusOK)
	case epOrder:
		o.serverMs += delayMs(svcOrders, in.ep, in.traceID)
		if in.orderID >= missingOrderFrom {
			part(svcOrders, route, http.StatusNotFound, 2, lg(svcOrders, sevWarn, msgOrderMissing))
			gateway(http.StatusNotFound)
		} else {
			part(svcOrders, route, http.StatusOK, 2, lg(svcOrders, sevInfo, msgOrderLoaded))
			gateway(http.StatusOK)
		}
	case epUserOrders:
		o.serverMs += delayMs(svcOrders, in.ep, in.traceID)
		part(svcOrders, route, http.StatusOK, 2, lg(svcOrders, sevInfo, msgOrdersListed))
		gateway(http.StatusOK)
	case epCheckout:
		o.serverMs += delayMs(svcOrders, in.ep, in.traceID)
		if in.poisoned {
			// inventory holds the row lock until orders gives up.
			o.serverMs += ordersInventoryTimeout.Milliseconds()
			part(svcInventory, "/reservations", http.StatusServiceUnavailable, 1, lg(svcInventory, sevWarn, msgLockWait), lg(svcInventory, sevError, msgReservationAbort))
			part(svcOrders, route, http.StatusInternalServerError, 2, lg(svcOrders, sevError, msgReservationFail))
			gateway(http.StatusInternalServerError)
		} else {
			o.serverMs += delayMs(svcInventory, in.ep, in.traceID)
			part(svcInventory, "/reservations", http.StatusOK, 1, lg(svcInventory, sevInfo, msgStockReserved))
			part(svcOrders, route, http.StatusCreated, 3, lg(svcOrders, sevInfo, msgOrderCreated))
			gateway(http.StatusCreated)
		}
		// orders is called before inventory.
		o.served[1], o.served[2] = o.served[2], o.served[1]
	case epPayment:
		o.serverMs += delayMs(svcPayments, in.ep, in.traceID)
		if in.failing {
			part(svcPayments, route, http.StatusServiceUnavailable, 2, lg(svcPayments, sevError, msgProviderDown))
			gateway(http.StatusServiceUnavailable)
		} else {
			part(svcPayments, route, http.StatusOK, 2, lg(svcPayments, sevInfo, msgChargeCaptured))
			gateway(http.StatusOK)
		}
	case epPromotions:
		o.serverMs += delayMs(svcLegacy, in.ep, in.traceID)
		part(svcLegacy, route, http.StatusOK, 1, lg(svcLegacy, sevInfo, msgPromotions))
		o.status = http.StatusOK
	}
	return o
}

// gatewayStatus maps a downstream status to what the gateway answers.
func gatewayStatus(downstream int) int {
	switch {
	case downstream == 0:
		return http.StatusBadGateway
	case downstream < 400:
		return downstream
	case downstream == http.StatusNotFound, downstream == http.StatusServiceUnavailable:
		return downstream
	case downstream >= 500:
		return http.StatusBadGateway
	}
	return downstream
}

// errorTypeFor is the client span's error.type for a status (the status
// code as a string, as the schema allows), or "" below 400.
func errorTypeFor(status int) string {
	if status >= 400 {
		return strconv.Itoa(status)
	}
	return ""
}
