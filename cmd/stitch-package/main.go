// Command stitch-package zips a built dist/ for Grafana's plugin catalog: the
// archive holds one folder named after the plugin id, as `grafana-cli` and
// the catalog's validator expect, and a .sha1 file is written beside it.
package main

import (
	"archive/zip"
	"crypto/sha1" // #nosec G505 -- the catalog asks for a SHA-1 checksum of the archive; it is no signature
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	dist := flag.String("dist", "dist", "the built plugin folder")
	out := flag.String("out", ".", "where the archive goes")
	flag.Parse()
	name, err := run(*dist, *out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "package:", err)
		os.Exit(1)
	}
	fmt.Println("package:", name)
}

// pluginJSON is the part of plugin.json the package checks.
type pluginJSON struct {
	ID         string `json:"id"`
	Executable string `json:"executable"`
	Info       struct {
		Version string `json:"version"`
		Links   []struct {
			Name, URL string
		} `json:"links"`
		Logos struct {
			Small, Large string
		} `json:"logos"`
		Screenshots []struct {
			Name, Path string
		} `json:"screenshots"`
	} `json:"info"`
	Includes []struct {
		Type, Name, Path string
	} `json:"includes"`
}

// check finds what Grafana's plugin validator would reject in dist/ and can
// be told without its network checks (the validator itself downloads from
// outside the registries these machines reach): every file plugin.json
// names is in the package, the license has no template placeholders left,
// and the catalog's page has links and screenshots.
func check(dist string, pj pluginJSON) []string {
	var problems []string
	exists := func(what, rel string) {
		if rel == "" {
			problems = append(problems, what+": no path")
			return
		}
		if _, err := os.Stat(filepath.Join(dist, filepath.FromSlash(rel))); err != nil {
			problems = append(problems, fmt.Sprintf("%s %s: not in the package", what, rel))
		}
	}
	for _, f := range []string{"module.js", "README.md", "LICENSE", "CHANGELOG.md"} {
		exists("file", f)
	}
	exists("logo", pj.Info.Logos.Small)
	exists("logo", pj.Info.Logos.Large)
	if len(pj.Info.Screenshots) == 0 {
		problems = append(problems, "info.screenshots is empty")
	}
	for _, s := range pj.Info.Screenshots {
		exists("screenshot", s.Path)
	}
	if len(pj.Info.Links) == 0 {
		problems = append(problems, "info.links is empty")
	}
	for _, inc := range pj.Includes {
		if inc.Type == "dashboard" {
			exists("included dashboard", inc.Path)
		}
	}
	if lic, err := os.ReadFile(filepath.Join(dist, "LICENSE")); err == nil && strings.Contains(string(lic), "{yyyy}") {
		problems = append(problems, "LICENSE still has its {yyyy} placeholder")
	}
	return problems
}

func run(dist, out string) (string, error) {
	raw, err := os.ReadFile(filepath.Join(dist, "plugin.json"))
	if err != nil {
		return "", fmt.Errorf("%w: build the plugin first (npm run build, then go tool mage buildAll)", err)
	}
	var pj pluginJSON
	if err := json.Unmarshal(raw, &pj); err != nil {
		return "", fmt.Errorf("dist/plugin.json: %w", err)
	}
	if pj.ID == "" || pj.Info.Version == "" || strings.Contains(pj.Info.Version, "%") {
		return "", errors.New("dist/plugin.json has no id or version: was it built by npm run build?")
	}
	if problems := check(dist, pj); len(problems) > 0 {
		return "", fmt.Errorf("dist/ is not ready for the catalog:\n  %s", strings.Join(problems, "\n  "))
	}
	if pj.Executable != "" {
		bins, _ := filepath.Glob(filepath.Join(dist, pj.Executable+"_*"))
		if len(bins) == 0 {
			return "", fmt.Errorf("no %s_<os>_<arch> binary in %s: run go tool mage buildAll (or build:linux)", pj.Executable, dist)
		}
	}
	name := filepath.Join(out, fmt.Sprintf("%s-%s.zip", pj.ID, pj.Info.Version))
	f, err := os.Create(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha1.New() // #nosec G401 -- checksum the catalog asks for, not a security boundary
	zw := zip.NewWriter(io.MultiWriter(f, h))
	// Files are read through a root at dist/: a symlink in it cannot make
	// the archive carry a file from outside.
	root, err := os.OpenRoot(dist)
	if err != nil {
		return "", err
	}
	defer root.Close()
	err = fs.WalkDir(root.FS(), ".", func(rel string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		hdr, err := zip.FileInfoHeader(info)
		if err != nil {
			return err
		}
		// Backend binaries keep their executable bit inside the archive.
		hdr.Name = pj.ID + "/" + rel
		hdr.Method = zip.Deflate
		w, err := zw.CreateHeader(hdr)
		if err != nil {
			return err
		}
		src, err := root.Open(rel)
		if err != nil {
			return err
		}
		defer src.Close()
		_, err = io.Copy(w, src)
		return err
	})
	if err != nil {
		return "", err
	}
	if err := zw.Close(); err != nil {
		return "", err
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if err := os.WriteFile(name+".sha1", []byte(sum+"\n"), 0o600); err != nil {
		return "", err
	}
	return name, nil
}
