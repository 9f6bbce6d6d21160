// Package victorialogs is the log store adapter for VictoriaLogs' LogsQL HTTP API.
package victorialogs

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"

	"github.com/stitch-observability/stitch/pkg/stores"
	"github.com/stitch-observability/stitch/pkg/stores/storehttp"
)

// Store reads log records from VictoriaLogs.
type Store struct {
	client *storehttp.Client
}

var _ stores.LogStore = (*Store)(nil)

// New returns a VictoriaLogs adapter over a store client.
func New(client *storehttp.Client) *Store { return &Store{client: client} }

const queryPath = "/select/logsql/query"

// Query runs a LogsQL query and returns its rows (one JSON object a line).
func (s *Store) Query(ctx context.Context, logsQL string, limit int) ([]map[string]string, error) {
	return s.queryWith(ctx, logsQL, limit, nil)
}

func (s *Store) queryWith(ctx context.Context, logsQL string, limit int, extra map[string]string) ([]map[string]string, error) {
	q := url.Values{"query": {logsQL}}
	if limit > 0 {
		q.Set("limit", fmt.Sprint(limit))
	}
	for k, v := range extra {
		q.Set(k, v)
	}
	body, err := s.client.Stream(ctx, queryPath, q, "")
	if err != nil {
		return nil, err
	}
	defer body.Close()
	rows, err := decodeRows(body)
	if err != nil {
		return nil, body.NotTheAPI(err)
	}
	return rows, nil
}

// decodeRows reads a LogsQL answer as it arrives: one JSON object a line,
// blank lines skipped.
func decodeRows(r io.Reader) ([]map[string]string, error) {
	var rows []map[string]string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), storehttp.MaxBodyBytes)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var row map[string]string
		if err := json.Unmarshal(line, &row); err != nil {
			return nil, err
		}
		rows = append(rows, row)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return rows, nil
}

// CheckHealth counts the last five minutes' records with a LogsQL stats
// query: the query path, and an answer shape only VictoriaLogs gives.
func (s *Store) CheckHealth(ctx context.Context) (string, error) {
	rows, err := s.Query(ctx, "_time:5m | stats count() as records", 0)
	if err != nil {
		return "", err
	}
	if len(rows) != 1 {
		return "", s.client.NotTheAPI(queryPath, nil, fmt.Errorf("a stats query returned %d rows, want 1", len(rows)))
	}
	n, ok := rows[0]["records"]
	if !ok {
		return "", s.client.NotTheAPI(queryPath, nil, fmt.Errorf("a stats query returned no \"records\" column"))
	}
	return fmt.Sprintf("LogsQL ok, %s records in the last 5m", n), nil
}
