package schema

import (
	"encoding/binary"
	"math"

	"go.opentelemetry.io/otel/trace"
)

// SamplingDecision is the value of stitch.sampling.decision.
type SamplingDecision string

// SamplingReason is the value of stitch.sampling.reason.
type SamplingReason string

// Sampling decisions and reasons (enums of the schema).
const (
	DecisionKeep SamplingDecision = "keep"
	DecisionDrop SamplingDecision = "drop"

	ReasonError             SamplingReason = "error"
	ReasonLatency           SamplingReason = "latency"
	ReasonSessionSampled    SamplingReason = "session_sampled"
	ReasonSessionNotSampled SamplingReason = "session_not_sampled"
)

// SampleInput is what the sampling decision depends on.
type SampleInput struct {
	SessionID string
	// Rate is the session sampling rate in [0, 1].
	Rate     float64
	HasError bool
	// DurationMs is the span duration; ThresholdMs the latency threshold
	// (0 or less disables the latency rule).
	DurationMs  int64
	ThresholdMs int64
}

// SampleResult is the decision and why.
type SampleResult struct {
	Decision SamplingDecision
	Reason   SamplingReason
}

// Keep reports whether the item is kept.
func (r SampleResult) Keep() bool { return r.Decision == DecisionKeep }

// Sample applies rules.sampling.algorithm. Inputs are checked first
// (session ID, then rate); then errors, then latency, then the session rule.
func Sample(in SampleInput) (SampleResult, error) {
	if err := ValidSessionID(in.SessionID); err != nil {
		return SampleResult{}, err
	}
	if err := checkRate(in.Rate); err != nil {
		return SampleResult{}, err
	}
	if in.HasError {
		return SampleResult{DecisionKeep, ReasonError}, nil
	}
	if in.ThresholdMs > 0 && in.DurationMs >= in.ThresholdMs {
		return SampleResult{DecisionKeep, ReasonLatency}, nil
	}
	keep, _ := SessionSampled(in.SessionID, in.Rate)
	if keep {
		return SampleResult{DecisionKeep, ReasonSessionSampled}, nil
	}
	return SampleResult{DecisionDrop, ReasonSessionNotSampled}, nil
}

func checkRate(rate float64) error {
	if math.IsNaN(rate) || math.IsInf(rate, 0) || rate < 0 || rate > 1 {
		return newErr(CodeBadRate, "rate %v is not in [0, 1]", rate)
	}
	return nil
}

// SessionSampled is the per-session rule: with V the first 16 hex characters
// of the session ID as a big-endian uint64, keep iff V < rate * 2^64.
func SessionSampled(sessionID string, rate float64) (bool, error) {
	if err := ValidSessionID(sessionID); err != nil {
		return false, err
	}
	if err := checkRate(rate); err != nil {
		return false, err
	}
	if rate >= 1 {
		return true, nil
	}
	if rate <= 0 {
		return false, nil
	}
	id, _ := trace.TraceIDFromHex(sessionID)
	v := binary.BigEndian.Uint64(id[:8])
	// rate*2^64 is exact (scaling by a power of two) and below 2^64 here.
	// For an integer V, V < x holds iff V < ceil(x); ceil(x) is an integer
	// below 2^64 (x >= 2^53 is already an integer), so the conversion is exact.
	return v < uint64(math.Ceil(rate*0x1p64)), nil
}
