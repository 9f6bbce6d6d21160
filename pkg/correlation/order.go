package correlation

import (
	"slices"
	"time"
)

// timeKey orders items by time: t is the time as unsigned nanoseconds
// (sign bit flipped, so unsigned order is time order), i the item's
// number. It holds no pointer, so moving one costs 16 bytes and no write
// barrier.
type timeKey struct {
	t uint64
	i int32
}

// minNano and maxNano bound the times whose nanoseconds fit an int64
// (years 1678–2262); any other time sends the keys to a comparison sort.
var (
	minNano = time.Unix(0, -1<<63)
	maxNano = time.Unix(0, 1<<63-1)
)

// timeKeys are n items' times as keys, and whether they all fit.
func timeKeys(n int, at func(i int) time.Time) ([]timeKey, bool) {
	keys := make([]timeKey, n)
	fit := true
	for i := range keys {
		t := at(i)
		if t.Before(minNano) || t.After(maxNano) {
			fit = false
		}
		keys[i] = timeKey{t: uint64(t.UnixNano()) ^ 1<<63, i: int32(i)}
	}
	return keys, fit
}

// sortByTime orders n items by time, ties in item order (a stable sort),
// and returns the item numbers in that order. It is a radix sort over
// the keys' bytes — linear, where a comparison sort of 10⁵ spans makes
// ~17 comparisons per span — skipping the bytes all items share (a
// session's times share their high bytes).
func sortByTime(n int, at func(i int) time.Time) []timeKey {
	keys, fit := timeKeys(n, at)
	if !fit {
		slices.SortStableFunc(keys, func(a, b timeKey) int { return at(int(a.i)).Compare(at(int(b.i))) })
		return keys
	}
	var or, and uint64 = 0, ^uint64(0)
	for _, k := range keys {
		or, and = or|k.t, and&k.t
	}
	tmp := make([]timeKey, n)
	var count [256]int
	for shift := uint(0); shift < 64; shift += 8 {
		if (or^and)>>shift&0xff == 0 {
			continue // every key has the same byte here
		}
		clear(count[:])
		for _, k := range keys {
			count[k.t>>shift&0xff]++
		}
		sum := 0
		for b, c := range count {
			count[b], sum = sum, sum+c
		}
		for _, k := range keys {
			d := k.t >> shift & 0xff
			tmp[count[d]] = k
			count[d]++
		}
		keys, tmp = tmp, keys
	}
	return keys
}

// sameTimeRuns calls f for each run of two or more sorted keys with the
// same time.
func sameTimeRuns(keys []timeKey, at func(i int) time.Time, f func(run []timeKey)) {
	for i := 0; i < len(keys); {
		j := i + 1
		for j < len(keys) && at(int(keys[j].i)).Equal(at(int(keys[i].i))) {
			j++
		}
		if j-i > 1 {
			f(keys[i:j])
		}
		i = j
	}
}
