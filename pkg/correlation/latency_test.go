package correlation

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestPercentilesNearestRank(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	p := percentiles(d)
	assert.Equal(t, 50*time.Millisecond, p.P50)
	assert.Equal(t, 95*time.Millisecond, p.P95)
	assert.Equal(t, 99*time.Millisecond, p.P99)
	assert.Equal(t, Percentiles{}, percentiles(nil))
	one := percentiles([]time.Duration{7})
	assert.Equal(t, Percentiles{7, 7, 7}, one)
}
