// Command schemadoc regenerates the files derived from
// schema/stitch-telemetry.yaml: schema/README.md and
// pkg/schema/names_gen.go. Run it from the repository root:
//
//	go run ./pkg/schema/cmd/schemadoc          # write the files
//	go run ./pkg/schema/cmd/schemadoc -check   # fail if they are stale
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/stitch-observability/stitch/pkg/schema"
	"github.com/stitch-observability/stitch/pkg/schema/docgen"
)

func main() {
	root := flag.String("root", ".", "repository root")
	check := flag.Bool("check", false, "only report whether the generated files are up to date")
	flag.Parse()
	if err := run(*root, *check); err != nil {
		fmt.Fprintln(os.Stderr, "schemadoc:", err)
		os.Exit(1)
	}
}

func run(root string, check bool) error {
	doc, err := os.ReadFile(filepath.Join(root, "schema", "stitch-telemetry.yaml"))
	if err != nil {
		return err
	}
	// Read the file rather than the embedded copy, so that the generator
	// works even while names_gen.go is stale.
	spec, err := schema.Load(doc)
	if err != nil {
		return err
	}
	names, err := docgen.Names(spec)
	if err != nil {
		return err
	}
	outputs := map[string][]byte{
		docgen.ReadmePath: docgen.Markdown(spec),
		docgen.NamesPath:  names,
	}
	stale := false
	for _, rel := range []string{docgen.ReadmePath, docgen.NamesPath} {
		path := filepath.Join(root, filepath.FromSlash(rel))
		old, _ := os.ReadFile(path)
		if bytes.Equal(old, outputs[rel]) {
			continue
		}
		if check {
			fmt.Fprintf(os.Stderr, "%s is stale\n", rel)
			stale = true
			continue
		}
		if err := os.WriteFile(path, outputs[rel], 0o644); err != nil {
			return err
		}
		fmt.Println("wrote", rel)
	}
	if stale {
		return fmt.Errorf("generated files are stale: %s", docgen.RegenerateHint)
	}
	return nil
}
