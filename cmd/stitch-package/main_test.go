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
	writeFile(t, filepath.Join(dist, "plugin.json"), completePluginJSON, 0o644)
	writeDist(t, dist)

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
		"stitch-sessions-datasource/CHANGELOG.md",
		"stitch-sessions-datasource/LICENSE",
		"stitch-sessions-datasource/README.md",
		"stitch-sessions-datasource/dashboards/a.json",
		"stitch-sessions-datasource/gpx_stitch_linux_amd64",
		"stitch-sessions-datasource/img/logo.svg",
		"stitch-sessions-datasource/img/shot.png",
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

	writeFile(t, filepath.Join(dist, "plugin.json"), completePluginJSON, 0o644)
	writeDist(t, dist)
	require.NoError(t, os.Remove(filepath.Join(dist, "gpx_stitch_linux_amd64")))
	_, err = run(dist, t.TempDir())
	assert.ErrorContains(t, err, "mage buildAll")
}

const completePluginJSON = `{"id":"stitch-sessions-datasource","executable":"gpx_stitch","info":{"version":"1.2.3",
	"links":[{"name":"Source","url":"https://example.com"}],"logos":{"small":"img/logo.svg","large":"img/logo.svg"},
	"screenshots":[{"name":"s","path":"img/shot.png"}]},"includes":[{"type":"dashboard","name":"a","path":"dashboards/a.json"}]}`

func writeDist(t *testing.T, dist string) {
	t.Helper()
	for _, f := range []string{"module.js", "README.md", "CHANGELOG.md", "img/logo.svg", "img/shot.png", "dashboards/a.json"} {
		writeFile(t, filepath.Join(dist, f), "x", 0o644)
	}
	writeFile(t, filepath.Join(dist, "LICENSE"), "Copyright 2026 The Stitch Authors", 0o644)
	writeFile(t, filepath.Join(dist, "gpx_stitch_linux_amd64"), "bin", 0o755)
}

func TestPackageNamesWhatTheCatalogWouldReject(t *testing.T) {
	dist := t.TempDir()
	writeFile(t, filepath.Join(dist, "plugin.json"), completePluginJSON, 0o644)
	writeDist(t, dist)
	writeFile(t, filepath.Join(dist, "LICENSE"), "Copyright {yyyy} {name of copyright owner}", 0o644)
	require.NoError(t, os.Remove(filepath.Join(dist, "dashboards", "a.json")))
	require.NoError(t, os.Remove(filepath.Join(dist, "img", "shot.png")))
	_, err := run(dist, t.TempDir())
	require.Error(t, err)
	for _, want := range []string{"included dashboard dashboards/a.json", "screenshot img/shot.png", "{yyyy}"} {
		assert.ErrorContains(t, err, want)
	}
}
