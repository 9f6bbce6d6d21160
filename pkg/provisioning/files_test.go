package provisioning

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

const repoRoot = "../.."

// The bundled dashboards, as Grafana's file provider reads them.
func bundledDashboards(t *testing.T) map[string]*Dashboard {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot, "src", "dashboards", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards: %v", err)
	}
	out := map[string]*Dashboard{}
	for _, f := range files {
		d, err := LoadDashboard(f)
		if err != nil {
			t.Fatal(err)
		}
		out[d.UID] = d
	}
	return out
}

func TestBundledDashboardsAreValid(t *testing.T) {
	ds := bundledDashboards(t)
	for _, uid := range []string{"stitch-overview", "stitch-session-detail", "stitch-endpoint"} {
		if ds[uid] == nil {
			t.Errorf("dashboard %s missing", uid)
		}
	}
	for uid, d := range ds {
		for _, err := range d.Validate() {
			t.Errorf("%s: %v", uid, err)
		}
		qs, err := d.StitchQueries()
		if err != nil || len(qs) == 0 {
			t.Errorf("%s: no Stitch queries (%v)", uid, err)
		}
	}
}

func TestBundledDashboardsPanels(t *testing.T) {
	ds := bundledDashboards(t)
	types := func(d *Dashboard) map[string]string {
		m := map[string]string{}
		for _, p := range d.AllPanels() {
			qs, _ := (&Dashboard{Panels: []Panel{p}}).StitchQueries()
			for _, q := range qs {
				m[p.Type+"/"+q.QueryType()] = p.Title
			}
		}
		return m
	}
	want := map[string][]string{
		"stitch-overview":       {"table/sessions", "timeseries/sessionMetrics", "table/latencyBreakdown", "barchart/latencyBreakdown", "table/errorCascades", "table/propagationHealth"},
		"stitch-session-detail": {"table/sessionTimeline", "traces/sessionTimeline", "logs/sessionTimeline"},
		"stitch-endpoint":       {"timeseries/sessionMetrics", "table/sessions", "table/errorCascades"},
	}
	for uid, kinds := range want {
		got := types(ds[uid])
		for _, k := range kinds {
			if _, ok := got[k]; !ok {
				t.Errorf("%s has no %s panel (has %v)", uid, k, got)
			}
		}
	}
	vars := func(d *Dashboard) []string {
		var out []string
		for _, v := range d.Templating.List {
			out = append(out, v.Name+"="+VariableAttribute(v.Query))
		}
		return out
	}
	if v := vars(ds["stitch-session-detail"]); !slices.Contains(v, "session=sessionId") {
		t.Errorf("session detail variables %v, want session from sessionId", v)
	}
	if v := vars(ds["stitch-endpoint"]); !slices.Contains(v, "endpoint=endpoint") {
		t.Errorf("endpoint variables %v, want endpoint from endpoint", v)
	}
}

// Drill-down links connect the dashboards: sessions → session detail with
// var-session, endpoints → endpoint drill-down with var-endpoint.
func TestBundledDashboardsLinkToEachOther(t *testing.T) {
	for uid, want := range map[string][]string{
		"stitch-overview":       {"/d/stitch-session-detail/", "var-session=${__value.raw}", "/d/stitch-endpoint/", "var-endpoint=${__value.raw}"},
		"stitch-endpoint":       {"/d/stitch-session-detail/", "var-session=${__value.raw}", "/d/stitch-overview/"},
		"stitch-session-detail": {"/d/stitch-overview/", "${datasource:queryparam}"},
	} {
		raw, err := os.ReadFile(filepath.Join(repoRoot, "src", "dashboards", uid+".json"))
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range want {
			if !strings.Contains(string(raw), w) {
				t.Errorf("%s: no link containing %q", uid, w)
			}
		}
	}
}

func TestDashboardProvider(t *testing.T) {
	f, err := LoadDashboardProviders(filepath.Join(repoRoot, "provisioning", "dashboards", "stitch.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range f.Validate() {
		t.Error(err)
	}
}

func TestAlertRulesFile(t *testing.T) {
	f, err := LoadAlertRules(filepath.Join(repoRoot, "provisioning", "alerting", "stitch-rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range f.Validate() {
		t.Error(err)
	}
	var metrics []string
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			for _, d := range r.Data {
				if d.DatasourceUID == ProvisionedDatasourceUID {
					metrics = append(metrics, d.Model["metric"].(string))
				}
			}
		}
	}
	for _, m := range []string{"errorSessionRatio", "serverLatencyP95", "propagationCoverage"} {
		if !slices.Contains(metrics, m) {
			t.Errorf("no rule on %s (rules query %v)", m, metrics)
		}
	}
}

// The datasource provisioning declares Stitch with the uid the alert rules
// refer to: the environment variable the user sets once.
func TestDatasourceProvisioning(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repoRoot, "provisioning", "datasources", "datasources.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		APIVersion  int `yaml:"apiVersion"`
		Datasources []struct {
			UID  string `yaml:"uid"`
			Type string `yaml:"type"`
		} `yaml:"datasources"`
	}
	if err := yaml.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, d := range f.Datasources {
		found = found || (d.UID == ProvisionedDatasourceUID && d.Type == PluginID)
	}
	if f.APIVersion != 1 || !found {
		t.Errorf("datasources.yml: apiVersion %d, Stitch with uid %q found: %v", f.APIVersion, ProvisionedDatasourceUID, found)
	}
}

// The plugin package offers every bundled dashboard: plugin.json includes
// each file of src/dashboards (create-plugin copies them into dist/).
func TestPluginJSONIncludesEveryDashboard(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repoRoot, "src", "plugin.json"))
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		Includes []struct{ Type, Name, Path string } `json:"includes"`
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatal(err)
	}
	included := map[string]bool{}
	for _, inc := range p.Includes {
		if inc.Type == "dashboard" {
			included[inc.Path] = true
			if _, err := os.Stat(filepath.Join(repoRoot, "src", inc.Path)); err != nil {
				t.Errorf("plugin.json includes %s: %v", inc.Path, err)
			}
		}
	}
	files, _ := filepath.Glob(filepath.Join(repoRoot, "src", "dashboards", "*.json"))
	for _, f := range files {
		if !included["dashboards/"+filepath.Base(f)] {
			t.Errorf("%s is not in plugin.json includes", f)
		}
	}
	if len(files) == 0 {
		t.Fatal("no dashboards")
	}
}
