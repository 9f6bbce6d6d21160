package safego

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"golang.org/x/sync/errgroup"
)

func TestPanicBecomesError(t *testing.T) {
	var g errgroup.Group
	Go(&g, func() error { panic("boom") })
	Go(&g, func() error { return nil })
	err := g.Wait()
	var pe *PanicError
	assert.True(t, errors.As(err, &pe))
	assert.Equal(t, "boom", pe.Value)
	assert.NotEmpty(t, pe.Stack)
}
