// Package victorialogs is the log store adapter for VictoriaLogs' LogsQL HTTP API.
package victorialogs

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
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
	var rows []map[string]string
	err := s.queryEach(ctx, logsQL, limit, extra, func(row map[string]string) error {
		rows = append(rows, maps.Clone(row))
		return nil
	})
	return rows, err
}

// queryEach runs a LogsQL query and calls each with its rows as they
// arrive (see readRows: a row is each's only during the call); an error of
// each's ends the read and is returned as it is.
func (s *Store) queryEach(ctx context.Context, logsQL string, limit int, extra map[string]string, each func(map[string]string) error) error {
	q := url.Values{"query": {logsQL}}
	if limit > 0 {
		q.Set("limit", fmt.Sprint(limit))
	}
	for k, v := range extra {
		q.Set(k, v)
	}
	body, err := s.client.Stream(ctx, queryPath, q, "")
	if err != nil {
		return err
	}
	defer body.Close()
	var stopped error
	err = readRows(body, func(row map[string]string) error {
		stopped = each(row)
		return stopped
	})
	if err != nil && err != stopped {
		return body.NotTheAPI(err)
	}
	return err
}

// decodeRows reads a LogsQL answer whole: one JSON object a line, blank
// lines skipped.
func decodeRows(r io.Reader) ([]map[string]string, error) {
	var rows []map[string]string
	err := readRows(r, func(row map[string]string) error {
		rows = append(rows, maps.Clone(row))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return rows, nil
}

// readRows reads a LogsQL answer as it arrives, one JSON object a line,
// blank lines skipped, and calls row with each. Each line is decoded as it
// is read, so a body that is not JSON lines fails at its first bytes, and
// no line is held beside its row. The rows share one map, cleared for each
// line (a map per row would be most of what a search allocates): row must
// copy what it keeps.
func readRows(r io.Reader, row func(map[string]string) error) error {
	br := bufio.NewReader(r)
	m := map[string]string{}
	for {
		// Skip blank lines and the space before a row.
		c, err := br.ReadByte()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if c == ' ' || c == '\t' || c == '\r' || c == '\n' {
			continue
		}
		if err := br.UnreadByte(); err != nil {
			return err
		}
		line := &lineReader{r: br}
		dec := json.NewDecoder(line)
		clear(m)
		if err := dec.Decode(&m); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		// Nothing but space may follow the row on its line.
		if _, err := dec.Token(); err != io.EOF {
			if err == nil {
				err = errors.New("more than one JSON value on a line")
			}
			return err
		}
		if err := row(m); err != nil {
			return err
		}
	}
}

// lineReader reads r up to the end of the line, consuming the newline.
type lineReader struct {
	r   *bufio.Reader
	end bool
}

func (l *lineReader) Read(p []byte) (int, error) {
	if l.end || len(p) == 0 {
		return 0, io.EOF
	}
	if l.r.Buffered() == 0 {
		if _, err := l.r.Peek(1); err != nil {
			return 0, err
		}
	}
	buf, _ := l.r.Peek(min(len(p), l.r.Buffered()))
	if i := bytes.IndexByte(buf, '\n'); i >= 0 {
		buf, l.end = buf[:i], true
		n := copy(p, buf)
		_, _ = l.r.Discard(n + 1)
		return n, nil
	}
	n := copy(p, buf)
	_, _ = l.r.Discard(n)
	return n, nil
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
