// Package provisioning reads and checks the dashboards, dashboard providers
// and alert rules Stitch ships (src/dashboards/, provisioning/) in the formats
// Grafana's file provisioning reads, extracts every Stitch query from them and
// evaluates the reduce + threshold expression forms the bundled alert rules
// use. It has no I/O beyond reading the files it is given.
package provisioning

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
)

// DatasourceVariable is the bundled dashboards' data source variable: every
// Stitch query refers to "${datasource}", so a dashboard works with any
// Stitch data source, whatever its uid.
const DatasourceVariable = "datasource"

// DatasourceUID is how dashboards refer to Stitch: through the variable.
const DatasourceUID = "${" + DatasourceVariable + "}"

// DatasourceInput is the import input (__inputs) that preselects the data
// source variable when Grafana imports a bundled dashboard.
const DatasourceInput = "DS_STITCH"

// ProvisionedDatasourceUID is how the provisioning files (data source and
// alert rules) name Stitch's uid: an environment variable the user sets once,
// which Grafana's file provisioning expands.
const ProvisionedDatasourceUID = "${STITCH_DATASOURCE_UID}"

// PluginID is Stitch's plugin id (a datasource reference's type).
const PluginID = "stitch-sessions-datasource"

// Grafana's built-in datasources a bundled dashboard may refer to as well.
const (
	GrafanaDatasourceUID    = "-- Grafana --"
	ExpressionDatasourceUID = "__expr__"
	// MinSchemaVersion is the oldest dashboard schema the bundled dashboards use.
	MinSchemaVersion = 39
)

// DatasourceRef is a panel's or target's datasource.
type DatasourceRef struct {
	Type string `json:"type,omitempty"`
	UID  string `json:"uid,omitempty"`
}

// Dashboard is the part of a dashboard JSON model Stitch checks.
type Dashboard struct {
	Inputs        []Input   `json:"__inputs"`
	UID           string    `json:"uid"`
	Title         string    `json:"title"`
	SchemaVersion int       `json:"schemaVersion"`
	Panels        []Panel   `json:"panels"`
	Templating    Templates `json:"templating"`
	Links         []Link    `json:"links"`
	Time          struct {
		From string `json:"from"`
		To   string `json:"to"`
	} `json:"time"`
}

// Input is an import input of a dashboard (__inputs).
type Input struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	PluginID string `json:"pluginId"`
}

// Link is a dashboard link.
type Link struct {
	Title string `json:"title"`
	Type  string `json:"type"`
	URL   string `json:"url"`
}

// Templates is a dashboard's templating section.
type Templates struct {
	List []Variable `json:"list"`
}

// Variable is a template variable.
type Variable struct {
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Datasource *DatasourceRef  `json:"datasource"`
	Query      json.RawMessage `json:"query"`
	Multi      bool            `json:"multi"`
	IncludeAll bool            `json:"includeAll"`
}

// Panel is a dashboard panel; rows nest their collapsed panels.
type Panel struct {
	ID              int               `json:"id"`
	Type            string            `json:"type"`
	Title           string            `json:"title"`
	Datasource      *DatasourceRef    `json:"datasource"`
	Targets         []json.RawMessage `json:"targets"`
	Panels          []Panel           `json:"panels"`
	Transformations []json.RawMessage `json:"transformations"`
	Options         map[string]any    `json:"options"`
	GridPos         *struct {
		H, W, X, Y int
	} `json:"gridPos"`
}

// ParseDashboard decodes a dashboard JSON model.
func ParseDashboard(raw []byte) (*Dashboard, error) {
	var d Dashboard
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("dashboard JSON: %w", err)
	}
	return &d, nil
}

// LoadDashboard reads and decodes a dashboard file.
func LoadDashboard(path string) (*Dashboard, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	d, err := ParseDashboard(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return d, nil
}

// AllPanels lists every panel, rows' nested panels included, rows excluded.
func (d *Dashboard) AllPanels() []Panel {
	var out []Panel
	var walk func(ps []Panel)
	walk = func(ps []Panel) {
		for _, p := range ps {
			if p.Type != "row" {
				out = append(out, p)
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	return out
}

// PanelQuery is one Stitch query of a panel.
type PanelQuery struct {
	PanelID    int
	PanelTitle string
	PanelType  string
	RefID      string
	// Model is the target as stored (template variables not substituted).
	Model map[string]any
}

// QueryType is the model's queryType ("sessions" when absent, as the editor treats it).
func (q PanelQuery) QueryType() string {
	if s, ok := q.Model["queryType"].(string); ok && s != "" {
		return s
	}
	return "sessions"
}

// effectiveUID is a target's datasource uid, falling back to its panel's.
func effectiveUID(panel, target *DatasourceRef) string {
	if target != nil && target.UID != "" {
		return target.UID
	}
	if panel != nil {
		return panel.UID
	}
	return ""
}

// StitchQueries lists every panel target whose datasource is Stitch.
func (d *Dashboard) StitchQueries() ([]PanelQuery, error) {
	var out []PanelQuery
	for _, p := range d.AllPanels() {
		for i, raw := range p.Targets {
			var model map[string]any
			if err := json.Unmarshal(raw, &model); err != nil {
				return nil, fmt.Errorf("panel %d %q target %d: %w", p.ID, p.Title, i, err)
			}
			var ref struct {
				Datasource *DatasourceRef `json:"datasource"`
			}
			_ = json.Unmarshal(raw, &ref)
			if effectiveUID(p.Datasource, ref.Datasource) != DatasourceUID {
				continue
			}
			refID, _ := model["refId"].(string)
			out = append(out, PanelQuery{PanelID: p.ID, PanelTitle: p.Title, PanelType: p.Type, RefID: refID, Model: model})
		}
	}
	return out, nil
}

// Validate checks what Grafana and Stitch need of a bundled dashboard: a uid
// and title, schemaVersion ≥ MinSchemaVersion, unique panel ids, every
// datasource reference Stitch (through the data source variable, type =
// PluginID) or Grafana's built-in one, the data source variable defined and
// preselected by the import input, every Stitch query valid, and every
// $variable a query uses defined. It returns every problem found.
func (d *Dashboard) Validate() []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if d.UID == "" || d.Title == "" {
		add("uid and title are required")
	}
	if d.SchemaVersion < MinSchemaVersion {
		add("schemaVersion %d, want ≥ %d", d.SchemaVersion, MinSchemaVersion)
	}
	checkRef := func(where string, r *DatasourceRef) {
		if r == nil {
			return
		}
		switch r.UID {
		case DatasourceUID:
			if r.Type != "" && r.Type != PluginID {
				add("%s: datasource uid %q has type %q, want %q", where, r.UID, r.Type, PluginID)
			}
		case GrafanaDatasourceUID, ExpressionDatasourceUID:
		default:
			add("%s: datasource uid %q, want %q (or %q)", where, r.UID, DatasourceUID, GrafanaDatasourceUID)
		}
	}
	seen := map[int]string{}
	var walk func(ps []Panel)
	walk = func(ps []Panel) {
		for _, p := range ps {
			where := fmt.Sprintf("panel %d %q", p.ID, p.Title)
			if p.ID <= 0 {
				add("%s: missing id", where)
			} else if prev, dup := seen[p.ID]; dup {
				add("%s: id also used by %q", where, prev)
			}
			seen[p.ID] = p.Title
			if p.Type == "" {
				add("%s: missing type", where)
			}
			if p.Type != "row" && p.Type != "text" && len(p.Targets) == 0 {
				add("%s: no queries", where)
			}
			checkRef(where, p.Datasource)
			refIDs := map[string]bool{}
			for i, raw := range p.Targets {
				var t struct {
					RefID      string         `json:"refId"`
					Datasource *DatasourceRef `json:"datasource"`
				}
				if err := json.Unmarshal(raw, &t); err != nil {
					add("%s target %d: %v", where, i, err)
					continue
				}
				if t.RefID == "" || refIDs[t.RefID] {
					add("%s target %d: refId %q missing or repeated", where, i, t.RefID)
				}
				refIDs[t.RefID] = true
				checkRef(fmt.Sprintf("%s target %s", where, t.RefID), t.Datasource)
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)

	input := false
	for _, in := range d.Inputs {
		input = input || (in.Name == DatasourceInput && in.Type == "datasource" && in.PluginID == PluginID)
	}
	if !input {
		add("__inputs: no datasource input %q for plugin %q: imports could not choose the data source", DatasourceInput, PluginID)
	}
	dsVar := false
	vars := map[string]bool{}
	for _, v := range d.Templating.List {
		vars[v.Name] = true
		where := fmt.Sprintf("variable %q", v.Name)
		if v.Name == DatasourceVariable {
			var q string
			_ = json.Unmarshal(v.Query, &q)
			dsVar = v.Type == "datasource" && q == PluginID
			if !dsVar {
				add("%s: must be a datasource variable of type %q", where, PluginID)
			}
		}
		if v.Type == "query" {
			checkRef(where, v.Datasource)
			if v.Datasource == nil || v.Datasource.UID != DatasourceUID {
				add("%s: a query variable must use the Stitch datasource", where)
			}
			if attr := VariableAttribute(v.Query); !knownValueAttributes[attr] {
				add("%s: attribute %q is not one the values route lists", where, attr)
			}
			if v.Multi || v.IncludeAll {
				add("%s: Stitch filters match one value; multi-value and All are not supported", where)
			}
		}
	}
	if !dsVar {
		add("no %q data source variable: panels would be pinned to one data source uid", DatasourceVariable)
	}
	qs, err := d.StitchQueries()
	if err != nil {
		add("%v", err)
	}
	for _, q := range qs {
		where := fmt.Sprintf("panel %d %q query %s", q.PanelID, q.PanelTitle, q.RefID)
		if err := ValidateQuery(q.Model); err != nil {
			add("%s: %v", where, err)
		}
		for _, name := range VariablesIn(q.Model) {
			if !vars[name] && !builtinVariable(name) {
				add("%s: uses undefined variable $%s", where, name)
			}
		}
	}
	return errs
}

// VariableAttribute is a Stitch query variable's attribute: its query is
// {"attribute": "..."} or, hand-written, the bare attribute name.
func VariableAttribute(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return strings.TrimSpace(s)
	}
	var q struct {
		Attribute string `json:"attribute"`
	}
	_ = json.Unmarshal(raw, &q)
	return strings.TrimSpace(q.Attribute)
}

var knownValueAttributes = map[string]bool{
	"appService": true, "appVersion": true, "osVersion": true, "deviceModel": true,
	"networkType": true, "endpoint": true, "sessionId": true,
}

func builtinVariable(name string) bool { return strings.HasPrefix(name, "__") }

var variableRef = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)(?::[^}]*)?\}|\$([A-Za-z0-9_]+)|\[\[([A-Za-z0-9_]+)\]\]`)

// VariablesIn lists the template variables the strings of a model use, sorted.
func VariablesIn(model any) []string {
	set := map[string]bool{}
	walkStrings(model, func(s string) string {
		for _, m := range variableRef.FindAllStringSubmatch(s, -1) {
			set[m[1]+m[2]+m[3]] = true
		}
		return s
	})
	out := make([]string, 0, len(set))
	for n := range set {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Substitute returns a copy of model with template variables replaced by
// values ($name, ${name}, ${name:format} and [[name]]); unknown variables are
// left as they are.
func Substitute(model map[string]any, values map[string]string) map[string]any {
	out, _ := walkStrings(deepCopy(model), func(s string) string {
		return variableRef.ReplaceAllStringFunc(s, func(ref string) string {
			m := variableRef.FindStringSubmatch(ref)
			if v, ok := values[m[1]+m[2]+m[3]]; ok {
				return v
			}
			return ref
		})
	}).(map[string]any)
	return out
}

func walkStrings(v any, f func(string) string) any {
	switch x := v.(type) {
	case string:
		return f(x)
	case map[string]any:
		for k, e := range x {
			x[k] = walkStrings(e, f)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = walkStrings(e, f)
		}
		return x
	default:
		return v
	}
}

func deepCopy(v any) any {
	raw, _ := json.Marshal(v)
	var out any
	_ = json.Unmarshal(raw, &out)
	return out
}
