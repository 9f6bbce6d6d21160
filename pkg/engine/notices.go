package engine

import (
	"fmt"
	"sync"
)

// Severity says how much a notice matters to the reader of a panel.
type Severity int

const (
	// SeverityInfo: the answer is complete for what was asked, or cut by a
	// limit the query set.
	SeverityInfo Severity = iota
	// SeverityWarning: part of the answer is missing (a store failed,
	// answered in part, or the data is incomplete).
	SeverityWarning
)

// Cause says who a notice is about: a store (down, slow, partial — the
// user's infrastructure) or the query itself (a limit, a filter).
type Cause string

const (
	CauseStore Cause = "store"
	CauseQuery Cause = "query"
)

// Notice is something the user should know about a partial or cut result.
type Notice struct {
	Severity Severity
	Cause    Cause
	// Store names the store's role ("traces", "logs") when Cause is
	// CauseStore.
	Store string
	Text  string
}

// notices collects a query's notices from every goroutine of that query. It
// is the one way engine paths record notices; safe for concurrent use.
type notices struct {
	mu   sync.Mutex
	list []Notice
}

func (n *notices) add(x Notice) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.list = append(n.list, x)
}

// query records, for information, what the query's own limits cut or what
// it found missing in the data.
func (n *notices) query(format string, args ...any) {
	n.add(Notice{Severity: SeverityInfo, Cause: CauseQuery, Text: fmt.Sprintf(format, args...)})
}

// store records a store's partial failure or partial answer.
func (n *notices) store(role, format string, args ...any) {
	n.add(Notice{Severity: SeverityWarning, Cause: CauseStore, Store: role, Text: fmt.Sprintf(format, args...)})
}

// all returns a copy of the notices recorded so far.
func (n *notices) all() []Notice {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]Notice(nil), n.list...)
}

// Store roles, as notices name them.
const (
	roleTraces = "traces"
	roleLogs   = "logs"
)
