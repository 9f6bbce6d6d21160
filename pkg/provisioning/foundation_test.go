package provisioning

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/alerting"
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"go.yaml.in/yaml/v3"
)

// The bundled dashboards and alert rules, checked against Grafana's own
// typed models (grafana-foundation-sdk, generated from Grafana's schemas)
// as well as against this package's rules: a field of the wrong type or a
// missing required one fails here before a Grafana refuses the file.
func TestBundledFilesMatchGrafanasTypedModels(t *testing.T) {
	plugins.RegisterDefaultPlugins()
	files, _ := filepath.Glob(filepath.Join(repoRoot, "src", "dashboards", "*.json"))
	if len(files) == 0 {
		t.Fatal("no dashboards")
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d dashboard.Dashboard
		if err := json.Unmarshal(raw, &d); err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
			continue
		}
		if err := d.Validate(); failed(err) {
			t.Errorf("%s: %v", filepath.Base(f), err)
		}
		if d.Uid == nil || d.Title == nil || len(d.Panels) == 0 {
			t.Errorf("%s: uid, title or panels lost in Grafana's model", filepath.Base(f))
		}
	}

	raw, err := os.ReadFile(filepath.Join(repoRoot, "provisioning", "alerting", "stitch-rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Groups []struct {
			Name, Folder string
			Rules        []map[string]any `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			// The file format names the folder and group on the group; the
			// API model carries them on each rule.
			r["folderUID"], r["ruleGroup"], r["orgID"] = g.Folder, g.Name, 1
			js, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			var rule alerting.Rule
			if err := rule.UnmarshalJSONStrict(js); failed(err) {
				t.Errorf("rule %v: %s", r["uid"], buildErrors(err))
				continue
			}
			if err := rule.Validate(); failed(err) {
				t.Errorf("rule %v: %v", r["uid"], err)
			}
			n++
		}
	}
	if n < 4 {
		t.Errorf("%d rules checked, want every bundled rule (4)", n)
	}
}

// failed tells a real error from the SDK's empty error list, which its
// generated code returns as a non-nil error on success.
func failed(err error) bool {
	var be cog.BuildErrors
	if errors.As(err, &be) {
		return len(be) > 0
	}
	return err != nil
}

// buildErrors spells out the SDK's error list, whose own message can be empty.
func buildErrors(err error) string {
	var be cog.BuildErrors
	if !errors.As(err, &be) {
		return err.Error()
	}
	var out []string
	for _, e := range be {
		out = append(out, e.Path+": "+e.Message)
	}
	return strings.Join(out, "; ")
}

// The typed check rejects what Grafana would: a missing required field and a
// field of the wrong type.
func TestGrafanasTypedModelsRejectBrokenRules(t *testing.T) {
	for name, js := range map[string]string{
		"no condition":  `{"title":"t","folderUID":"f","ruleGroup":"g","orgID":1,"for":"2m","noDataState":"OK","execErrState":"Error","data":[]}`,
		"for as number": `{"title":"t","condition":"C","folderUID":"f","ruleGroup":"g","orgID":1,"for":120,"noDataState":"OK","execErrState":"Error","data":[]}`,
		"unknown field": `{"title":"t","condition":"C","folderUID":"f","ruleGroup":"g","orgID":1,"for":"2m","noDataState":"OK","execErrState":"Error","data":[],"runbook":"x"}`,
	} {
		var rule alerting.Rule
		if !failed(rule.UnmarshalJSONStrict([]byte(js))) {
			t.Errorf("%s: accepted", name)
		}
	}
}
