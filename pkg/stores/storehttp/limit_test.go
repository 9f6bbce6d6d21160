package storehttp

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestLearnedLimitOnlyGoesDown(t *testing.T) {
	var l LearnedLimit
	assert.EqualValues(t, 5000, l.Or(5000), "nothing learned: the default")
	assert.True(t, l.Lower(1000))
	assert.False(t, l.Lower(2000), "a higher limit teaches nothing")
	assert.False(t, l.Lower(1000), "the same limit teaches nothing")
	assert.EqualValues(t, 1000, l.Or(5000))
	assert.EqualValues(t, 500, l.Or(500), "never above the default")

	var wg sync.WaitGroup
	for v := int64(100); v < 200; v++ {
		wg.Add(1)
		go func() { defer wg.Done(); l.Lower(v) }()
	}
	wg.Wait()
	assert.EqualValues(t, 100, l.Or(5000), "the lowest of concurrent refusals wins")
}
