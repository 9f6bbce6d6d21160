package stores

import (
	"testing"
	"time"
)

func TestSortSessionRows(t *testing.T) {
	t0 := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	row := func(id string, first, last time.Duration, errs int) SessionRow {
		return SessionRow{SessionID: id, First: t0.Add(first), Last: t0.Add(last), Errors: errs}
	}
	rows := []SessionRow{
		row("c", 0, 5*time.Second, 1),
		row("b", time.Second, 2*time.Second, 1),
		row("a", time.Second, 6*time.Second, 0),
		row("d", 0, 5*time.Second, 1),
	}
	for o, want := range map[SessionOrder]string{
		OrderByStart:    "abcd", // most recent first; the ID breaks ties
		OrderByDuration: "acdb", // longest first
		OrderByErrors:   "bcda", // most errors, then most recent
	} {
		sorted := append([]SessionRow(nil), rows...)
		SortSessionRows(sorted, o)
		got := ""
		for _, r := range sorted {
			got += r.SessionID
		}
		if got != want {
			t.Errorf("%s: got %s, want %s", o, got, want)
		}
	}
}
