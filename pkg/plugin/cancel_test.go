package plugin

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// storeTimeout is the timeoutSeconds faultyDatasource configures, the
// least the settings accept; every store request must end within it and
// a second of slack, and so must a query that waits on one round of them.
const (
	storeTimeout = time.Second
	timeoutSlack = time.Second
)

// silentStore accepts connections and never answers, not even a header.
func silentStore(t *testing.T) (url, host string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var (
		mu    sync.Mutex
		conns []net.Conn
		done  = make(chan struct{})
	)
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return "http://" + l.Addr().String(), l.Addr().String()
}

// tricklingStore answers 200 and then a byte a second (a space: every
// store's decoder waits for more), for as long as the client reads;
// started is called once the first byte is out.
func tricklingStore(t *testing.T, started func()) (url, host string) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for first := true; ; first = false {
			if _, err := w.Write([]byte(" ")); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			if first {
				started()
			}
			select {
			case <-r.Context().Done():
				return
			case <-tick.C:
			}
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL, srv.Listener.Addr().String()
}

// A store that hangs — silent, or sending a byte a second — or a query
// Grafana cancels mid-answer: each query of every store kind ends within
// the store's timeout and a second (a cancelled one within a second of the
// cancellation), with the timeout's or the cancellation's error (or, where
// the query degrades without the store, a notice), and leaves no goroutine
// behind.
func TestHangingStoresAndCancelledQueriesEndInTime(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	behaviours := []struct {
		name  string
		fault storeFault // how checkFaultResponse judges the answer
		start func(t *testing.T, started func()) (string, string)
	}{
		{"silent", storeFault{name: "timeout"}, func(t *testing.T, _ func()) (string, string) { return silentStore(t) }},
		{"a byte a second", storeFault{name: "timeout"}, tricklingStore},
		{"cancelled mid-answer", storeFault{name: "context cancelled", cancels: true}, tricklingStore},
	}
	t.Run("group", func(t *testing.T) {
		for _, k := range storeKinds {
			for _, qt := range k.queryTypes {
				for _, b := range behaviours {
					t.Run(string(k.kind)+"/"+qt+"/"+b.name, func(t *testing.T) {
						t.Parallel()
						ctx, cancel := context.WithCancel(context.Background())
						defer cancel()
						var (
							once      sync.Once
							cancelled = make(chan time.Time, 1)
						)
						started := func() {
							if b.fault.cancels {
								once.Do(func() { cancelled <- time.Now(); cancel() })
							}
						}
						url, host := b.start(t, started)
						ds := faultyDatasource(t, k, url)

						start := time.Now()
						resp, err := ds.QueryData(ctx, &backend.QueryDataRequest{Queries: []backend.DataQuery{{
							RefID: qt, JSON: json.RawMessage(faultQueries[qt]),
							TimeRange: backend.TimeRange{From: t0.Add(-time.Minute), To: t0.Add(time.Minute)},
							Interval:  30 * time.Second, MaxDataPoints: 100,
						}}})
						took := time.Since(start)
						require.NoError(t, err)
						checkFaultResponse(t, k, b.fault, qt, host, resp.Responses[qt])
						if b.fault.cancels {
							select {
							case at := <-cancelled:
								assert.Less(t, time.Since(at), timeoutSlack, "the query ends within a second of its cancellation")
							default:
								t.Fatal("the store never started answering")
							}
						}
						assert.Less(t, took, storeTimeout+timeoutSlack, "the query ends within the store's timeout and a second")
						t.Logf("answered in %v", took.Round(time.Millisecond))
					})
				}
			}
		}
	})
	goleak.VerifyNone(t, ignore)
}
