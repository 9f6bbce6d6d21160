package main

import (
	"archive/zip"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(content), mode))
}

func TestPackageHoldsOneFolderNamedAfterThePlugin(t *testing.T) {
	dist, out := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(dist, "plugin.json"), `{"id":"stitch-sessions-datasource","executable":"gpx_stitch","info":{"version":"1.2.3"}}`, 0o644)
	writeFile(t, filepath.Join(dist, "module.js"), "x", 0o644)
	writeFile(t, filepath.Join(dist, "dashboards", "a.json"), "{}", 0o644)
	writeFile(t, filepath.Join(dist, "gpx_stitch_linux_amd64"), "bin", 0o755)

	name, err := run(dist, out)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(out, "stitch-sessions-datasource-1.2.3.zip"), name)
	zr, err := zip.OpenReader(name)
	require.NoError(t, err)
	defer zr.Close()
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
		if f.Name == "stitch-sessions-datasource/gpx_stitch_linux_amd64" {
			assert.Equal(t, os.FileMode(0o755), f.Mode().Perm(), "the backend stays executable")
		}
	}
	sort.Strings(names)
	assert.Equal(t, []string{
		"stitch-sessions-datasource/dashboards/a.json",
		"stitch-sessions-datasource/gpx_stitch_linux_amd64",
		"stitch-sessions-datasource/module.js",
		"stitch-sessions-datasource/plugin.json",
	}, names)
	sum, err := os.ReadFile(name + ".sha1")
	require.NoError(t, err)
	assert.Len(t, sum, 41)
}

func TestPackageRefusesAnUnbuiltDist(t *testing.T) {
	dist := t.TempDir()
	_, err := run(dist, t.TempDir())
	assert.ErrorContains(t, err, "build the plugin first")

	writeFile(t, filepath.Join(dist, "plugin.json"), `{"id":"p","executable":"gpx_stitch","info":{"version":"%VERSION%"}}`, 0o644)
	_, err = run(dist, t.TempDir())
	assert.ErrorContains(t, err, "no id or version")

	writeFile(t, filepath.Join(dist, "plugin.json"), `{"id":"p","executable":"gpx_stitch","info":{"version":"1.0.0"}}`, 0o644)
	_, err = run(dist, t.TempDir())
	assert.ErrorContains(t, err, "mage buildAll")
}
