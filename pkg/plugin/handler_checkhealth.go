package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/log"
)

// StoreHealth is one store's line in the health check's JSON details.
type StoreHealth struct {
	Role    string `json:"role"`
	Kind    string `json:"kind"`
	Host    string `json:"host"`
	OK      bool   `json:"ok"`
	Message string `json:"message"`
}

// HealthDetails is the JSON body of CheckHealthResult.JSONDetails.
type HealthDetails struct {
	Stores []StoreHealth `json:"stores"`
}

// CheckHealth runs each configured store's real query path concurrently and
// reports one line per store. The result is an error if any store fails.
func (d *Datasource) CheckHealth(ctx context.Context, _ *backend.CheckHealthRequest) (*backend.CheckHealthResult, error) {
	if d.settingsErr != nil {
		return &backend.CheckHealthResult{Status: backend.HealthStatusError, Message: d.settingsErr.Error()}, nil
	}
	checkers := d.healthCheckers()
	results := make([]StoreHealth, len(checkers))
	var wg sync.WaitGroup
	for i, sc := range checkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = d.checkOne(ctx, sc)
		}()
	}
	wg.Wait()

	status := backend.HealthStatusOk
	lines := make([]string, 0, len(results))
	for _, r := range results {
		state := "ok"
		if !r.OK {
			state = "error"
			status = backend.HealthStatusError
		}
		lines = append(lines, fmt.Sprintf("%s (%s, %s): %s — %s", r.Role, r.Kind, r.Host, state, r.Message))
	}
	details, err := json.Marshal(HealthDetails{Stores: results})
	if err != nil {
		return nil, err
	}
	return &backend.CheckHealthResult{
		Status:      status,
		Message:     strings.Join(lines, "\n"),
		JSONDetails: details,
	}, nil
}

func (d *Datasource) checkOne(ctx context.Context, sc storeChecker) (res StoreHealth) {
	res = StoreHealth{Role: string(sc.store.Role), Kind: string(sc.store.Kind), Host: sc.store.Host()}
	defer func() {
		// A bug in one adapter must not take the whole check down.
		if r := recover(); r != nil {
			res.OK, res.Message = false, "internal error while checking this store"
			log.DefaultLogger.FromContext(ctx).Error("health check panicked", "store", res.Role, "panic", d.settings.Redact(fmt.Sprint(r)))
		}
	}()
	detail, err := sc.checker.CheckHealth(ctx)
	if err != nil {
		res.Message = d.settings.Redact(err.Error())
		log.DefaultLogger.FromContext(ctx).Warn("store health check failed", "store", res.Role, "kind", res.Kind, "host", res.Host, "error", res.Message)
		return res
	}
	res.OK, res.Message = true, d.settings.Redact(detail)
	return res
}
