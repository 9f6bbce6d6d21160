package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stitch-observability/stitch/internal/scaleworld"
)

func TestScalePlanOnlyPrintsTheTruth(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.json")
	f, err := os.Create(path)
	require.NoError(t, err)
	stdout := os.Stdout
	os.Stdout = f
	err = run(context.Background(), []string{"-scale", "25", "-seed", "4", "-app", "scale-test-app", "-window", "30m", "-plan-only"})
	os.Stdout = stdout
	require.NoError(t, err)
	require.NoError(t, f.Close())
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var tr scaleworld.Truth
	require.NoError(t, json.Unmarshal(b, &tr))
	assert.Equal(t, "scale-test-app", tr.App)
	assert.Equal(t, int64(4), tr.Seed)
	assert.Len(t, tr.Sessions, 25)
	assert.Equal(t, 30*60.0, tr.WindowEnd.Sub(tr.WindowStart).Seconds())
	assert.Contains(t, tr.Services, "scale-test-app-gateway")
}

func TestScaleRejectsABadApp(t *testing.T) {
	err := run(context.Background(), []string{"-scale", "5", "-app", "not a name", "-plan-only"})
	assert.Error(t, err)
}
