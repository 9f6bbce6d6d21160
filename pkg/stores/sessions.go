package stores

import "sort"

// SortSessionRows orders session rows as a SessionOrder asks, descending,
// the session ID breaking ties (so a page is the same at every call): by
// start, the most recent first; by duration (Last − First), the longest
// first; by errors, the most first, then the most recent. Adapters that
// merge the pages of several store queries sort the merge with it.
func SortSessionRows(rows []SessionRow, o SessionOrder) {
	sort.SliceStable(rows, func(i, j int) bool { return SessionRowLess(rows[i], rows[j], o) })
}

// SessionRowLess tells whether a ranks before b in order o.
func SessionRowLess(a, b SessionRow, o SessionOrder) bool {
	switch o {
	case OrderByDuration:
		if da, db := a.Last.Sub(a.First), b.Last.Sub(b.First); da != db {
			return da > db
		}
	case OrderByErrors:
		if a.Errors != b.Errors {
			return a.Errors > b.Errors
		}
		if !a.First.Equal(b.First) {
			return a.First.After(b.First)
		}
	default:
		if !a.First.Equal(b.First) {
			return a.First.After(b.First)
		}
	}
	return a.SessionID < b.SessionID
}
