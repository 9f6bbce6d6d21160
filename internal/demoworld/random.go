package demoworld

import (
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
)

// rng is the planner's only source of randomness: a PCG generator seeded from
// the world's seed, so a seed always yields the same world. IDs come from
// here too (never crypto/rand), which is what makes the ground truth
// reproducible.
type rng struct{ r *rand.Rand }

func newRNG(seed int64) *rng {
	// #nosec G115 G404 -- a seeded, reproducible generator is the point: the seed's bits are used as they are.
	return &rng{r: rand.New(rand.NewPCG(uint64(seed), 0x5354_4954_4348_0001))}
}

// intn returns a value in [0, n).
func (g *rng) intn(n int) int { return g.r.IntN(n) }

// between returns a value in [lo, hi].
func (g *rng) between(lo, hi int64) int64 { return lo + g.r.Int64N(hi-lo+1) }

// chance is true with probability p.
func (g *rng) chance(p float64) bool { return g.r.Float64() < p }

// hexID returns n random bytes as lowercase hex, never all zero.
func (g *rng) hexID(n int) string {
	b := make([]byte, n+7)
	for {
		for i := 0; i < n; i += 8 {
			binary.BigEndian.PutUint64(b[i:], g.r.Uint64())
		}
		id := b[:n]
		for _, c := range id {
			if c != 0 {
				return hex.EncodeToString(id)
			}
		}
	}
}

func (g *rng) traceID() string { return g.hexID(16) }
func (g *rng) spanID() string  { return g.hexID(8) }

// uuid returns a random version-4-shaped UUID (used in raw URLs only).
func (g *rng) uuid() string {
	h := g.hexID(16)
	return h[0:8] + "-" + h[8:12] + "-4" + h[13:16] + "-a" + h[17:20] + "-" + h[20:32]
}

func pick[T any](g *rng, xs []T) T { return xs[g.intn(len(xs))] }

// perm returns a random permutation of [0, n).
func (g *rng) perm(n int) []int { return g.r.Perm(n) }
