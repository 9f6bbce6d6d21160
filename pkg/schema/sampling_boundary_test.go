package schema

import (
	"encoding/json"
	"fmt"
	"testing"
)

// The collector's form of the session rule (a string comparison against
// SessionSampledBelow) decides every sampling vector's session exactly as
// SessionSampled does.
func TestSessionSampledBelowMatchesVectors(t *testing.T) {
	f := loadVectorFile(t, "vectors/sampling.json")
	n := 0
	for _, v := range f.Vectors {
		var in samplingIn
		if err := strictJSON(v.Input, &in); err != nil {
			t.Fatalf("%s: %v", v.ID, err)
		}
		rate, err := in.Rate.Float64()
		if err != nil {
			t.Fatalf("%s: %v", v.ID, err)
		}
		want, err := SessionSampled(in.SessionID, rate)
		if err != nil {
			continue // bad inputs: the collector checks the format separately
		}
		below, err := SessionSampledBelow(rate)
		if err != nil {
			t.Fatalf("%s: %v", v.ID, err)
		}
		if got := below == "" || in.SessionID < below; got != want {
			t.Errorf("%s: id %s rate %v: boundary %q says %v, the rule %v", v.ID, in.SessionID, rate, below, got, want)
		}
		n++
	}
	if n < 5 {
		t.Fatalf("only %d vectors exercised the session rule", n)
	}
}

func TestSessionSampledBelowEdges(t *testing.T) {
	for _, tc := range []struct {
		rate float64
		want string
	}{
		{0, "00000000000000000000000000000000"},
		{0.5, "80000000000000000000000000000000"},
		{0.9, "e666666666666800" + "0000000000000000"},
		{1, ""},
	} {
		got, err := SessionSampledBelow(tc.rate)
		if err != nil || got != tc.want {
			t.Errorf("rate %v: got %q, %v; want %q", tc.rate, got, err, tc.want)
		}
	}
	for _, bad := range []float64{-0.1, 1.1} {
		if _, err := SessionSampledBelow(bad); err == nil {
			t.Errorf("rate %v accepted", bad)
		}
	}
}

func FuzzSessionSampledBelow(f *testing.F) {
	f.Add(uint64(0x8000000000000000), uint64(1), 0.5)
	f.Add(uint64(0xe666666666666800), uint64(0), 0.9)
	f.Add(uint64(0xe6666666666667ff), uint64(7), 0.9)
	f.Fuzz(func(t *testing.T, hi, lo uint64, rate float64) {
		id := fmt.Sprintf("%016x%016x", hi, lo)
		want, err := SessionSampled(id, rate)
		if err != nil {
			return
		}
		below, err := SessionSampledBelow(rate)
		if err != nil {
			t.Fatal(err)
		}
		if got := below == "" || id < below; got != want {
			b, _ := json.Marshal(map[string]any{"id": id, "rate": rate, "below": below})
			t.Fatalf("%s: got %v want %v", b, got, want)
		}
	})
}
