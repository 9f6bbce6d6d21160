package storehttp

import "sync/atomic"

// LearnedLimit is a limit a store showed in a refusal: a tenant whose limit
// is lower than the store's default gets a 400 naming it, and the adapter
// asks again within it. Zero means nothing learned. It only goes down, so a
// refusal that teaches nothing new is not retried. Safe for concurrent use.
type LearnedLimit struct{ v atomic.Int64 }

// Lower stores v when it is below the learned value (or none is learned)
// and says whether it did.
func (l *LearnedLimit) Lower(v int64) bool {
	for {
		cur := l.v.Load()
		if cur != 0 && cur <= v {
			return false
		}
		if l.v.CompareAndSwap(cur, v) {
			return true
		}
	}
}

// Or is the learned limit when one below def was learned, else def.
func (l *LearnedLimit) Or(def int64) int64 {
	if v := l.v.Load(); v > 0 && v < def {
		return v
	}
	return def
}
