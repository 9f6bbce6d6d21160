package schema

import (
	"encoding/binary"
	"encoding/hex"
	"math"
	"strings"
)

// SessionSampledBelow expresses the session rule of rules.sampling as a
// comparison of strings, for places that can compare strings but cannot
// parse hex (the OpenTelemetry Collector's OTTL): for every valid session
// ID, SessionSampled(id, rate) holds exactly when id < boundary, compared
// as byte strings. Valid IDs are fixed-length lowercase hex, so their byte
// order is their numeric order. The boundary is the 16 hex characters of
// ceil(rate × 2^64) followed by 16 zeros; it is "" when every session is
// sampled (rate >= 1), since no 32-hex-character string bounds them all.
func SessionSampledBelow(rate float64) (string, error) {
	if err := checkRate(rate); err != nil {
		return "", err
	}
	if rate >= 1 {
		return "", nil
	}
	// Exact, as in SessionSampled: rate*2^64 < 2^64 and V < x iff V < ceil(x).
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(math.Ceil(rate*0x1p64)))
	return hex.EncodeToString(b[:]) + strings.Repeat("0", 16), nil
}
