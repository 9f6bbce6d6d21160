package provisioning

import (
	"fmt"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// AlertRulesFile is Grafana's alerting file-provisioning format (apiVersion 1,
// groups of rules), the part Stitch uses.
type AlertRulesFile struct {
	APIVersion int          `yaml:"apiVersion"`
	Groups     []AlertGroup `yaml:"groups"`
}

// AlertGroup is an evaluation group: its rules run together every Interval.
type AlertGroup struct {
	OrgID    int         `yaml:"orgId"`
	Name     string      `yaml:"name"`
	Folder   string      `yaml:"folder"`
	Interval string      `yaml:"interval"`
	Rules    []AlertRule `yaml:"rules"`
}

// AlertRule is one provisioned alert rule.
type AlertRule struct {
	UID          string            `yaml:"uid"`
	Title        string            `yaml:"title"`
	Condition    string            `yaml:"condition"`
	Data         []AlertQuery      `yaml:"data"`
	NoDataState  string            `yaml:"noDataState"`
	ExecErrState string            `yaml:"execErrState"`
	For          string            `yaml:"for"`
	Annotations  map[string]string `yaml:"annotations"`
	Labels       map[string]string `yaml:"labels"`
	IsPaused     bool              `yaml:"isPaused"`
}

// RelativeTimeRange is how far back (From) and up to when (To) a rule's
// query looks, in seconds before the evaluation time.
type RelativeTimeRange struct {
	From int64 `yaml:"from"`
	To   int64 `yaml:"to"`
}

// AlertQuery is a node of a rule: a datasource query or an expression.
type AlertQuery struct {
	RefID             string            `yaml:"refId"`
	QueryType         string            `yaml:"queryType"`
	RelativeTimeRange RelativeTimeRange `yaml:"relativeTimeRange"`
	DatasourceUID     string            `yaml:"datasourceUid"`
	Model             map[string]any    `yaml:"model"`
}

// IsExpression tells whether the node is a server-side expression.
func (q AlertQuery) IsExpression() bool { return q.DatasourceUID == ExpressionDatasourceUID }

// Window is the query's time range for an evaluation at now.
func (q AlertQuery) Window(now time.Time) (from, to time.Time) {
	return now.Add(-time.Duration(q.RelativeTimeRange.From) * time.Second), now.Add(-time.Duration(q.RelativeTimeRange.To) * time.Second)
}

// Interval is the query's bucket size: the model's intervalMs, Grafana
// alerting's default of 1s when absent.
func (q AlertQuery) Interval() time.Duration {
	if ms, ok := toFloat(q.Model["intervalMs"]); ok && ms > 0 {
		return time.Duration(ms) * time.Millisecond
	}
	return time.Second
}

// ParseAlertRules decodes an alert rules provisioning file.
func ParseAlertRules(raw []byte) (*AlertRulesFile, error) {
	var f AlertRulesFile
	if err := yaml.Unmarshal(raw, &f); err != nil {
		return nil, fmt.Errorf("alert rules YAML: %w", err)
	}
	// YAML numbers decode as int; make models look like JSON-decoded ones.
	for gi := range f.Groups {
		for ri := range f.Groups[gi].Rules {
			for di := range f.Groups[gi].Rules[ri].Data {
				d := &f.Groups[gi].Rules[ri].Data[di]
				d.Model, _ = jsonish(d.Model).(map[string]any)
			}
		}
	}
	return &f, nil
}

// LoadAlertRules reads and decodes an alert rules provisioning file.
func LoadAlertRules(path string) (*AlertRulesFile, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f, err := ParseAlertRules(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

func jsonish(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = jsonish(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = jsonish(e)
		}
		return x
	case int:
		return float64(x)
	case int64:
		return float64(x)
	default:
		return v
	}
}

var ruleUID = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,40}$`)

// RequiredAnnotations every bundled rule carries: what it means and what to open first.
var RequiredAnnotations = []string{"summary", "description", "runbook_url"}

// Validate checks what Grafana requires of a provisioned rule file and what
// Stitch requires of its bundled rules: every rule's nodes reference existing
// refIds, its condition exists, Stitch queries are valid and look back a
// positive window, expressions are reduce or threshold nodes this package can
// evaluate, durations parse, and the annotations say what to open first.
func (f *AlertRulesFile) Validate() []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if f.APIVersion != 1 {
		add("apiVersion %d, want 1", f.APIVersion)
	}
	if len(f.Groups) == 0 {
		add("no groups")
	}
	uids := map[string]bool{}
	for _, g := range f.Groups {
		gw := fmt.Sprintf("group %q", g.Name)
		if g.Name == "" || g.Folder == "" {
			add("%s: name and folder are required", gw)
		}
		if iv, err := time.ParseDuration(g.Interval); err != nil || iv < 10*time.Second || iv%(10*time.Second) != 0 {
			add("%s: interval %q is not a multiple of 10s", gw, g.Interval)
		}
		if len(g.Rules) == 0 {
			add("%s: no rules", gw)
		}
		for _, r := range g.Rules {
			rw := fmt.Sprintf("%s rule %q", gw, r.UID)
			if !ruleUID.MatchString(r.UID) {
				add("%s: uid must be 1-40 of [a-zA-Z0-9_-]", rw)
			}
			if uids[r.UID] {
				add("%s: uid repeated", rw)
			}
			uids[r.UID] = true
			if r.Title == "" {
				add("%s: title missing", rw)
			}
			if _, err := time.ParseDuration(r.For); r.For != "" && err != nil {
				add("%s: for %q: %v", rw, r.For, err)
			}
			if r.NoDataState != "" && !slices.Contains([]string{"Alerting", "NoData", "OK"}, r.NoDataState) {
				add("%s: noDataState %q", rw, r.NoDataState)
			}
			if r.ExecErrState != "" && !slices.Contains([]string{"Alerting", "Error", "OK"}, r.ExecErrState) {
				add("%s: execErrState %q", rw, r.ExecErrState)
			}
			for _, a := range RequiredAnnotations {
				if r.Annotations[a] == "" {
					add("%s: annotation %s missing", rw, a)
				}
			}
			// A notification is read outside Grafana: its runbook link must
			// be absolute, and a template in it could put an unencoded
			// label value into the URL.
			if u, err := url.Parse(r.Annotations["runbook_url"]); err != nil || u.Scheme != "https" || u.Host == "" || strings.Contains(r.Annotations["runbook_url"], "{{") {
				add("%s: runbook_url %q must be an absolute https URL without templates", rw, r.Annotations["runbook_url"])
			}
			if r.Annotations["__dashboardUid__"] == "" {
				add("%s: annotation __dashboardUid__ missing: notifications link to the dashboard to open first", rw)
			}
			refs := map[string]bool{}
			for _, d := range r.Data {
				dw := fmt.Sprintf("%s node %q", rw, d.RefID)
				if d.RefID == "" || refs[d.RefID] {
					add("%s: refId missing or repeated", dw)
				}
				switch {
				case d.IsExpression():
					if err := validateExpression(d.Model, refs); err != nil {
						add("%s: %v", dw, err)
					}
				case d.DatasourceUID == ProvisionedDatasourceUID:
					if err := ValidateQuery(d.Model); err != nil {
						add("%s: %v", dw, err)
					}
					if d.RelativeTimeRange.From <= d.RelativeTimeRange.To {
						add("%s: relativeTimeRange from %d must be further back than to %d", dw, d.RelativeTimeRange.From, d.RelativeTimeRange.To)
					}
					if vs := VariablesIn(d.Model); len(vs) > 0 {
						add("%s: alert queries cannot use template variables (%v)", dw, vs)
					}
				default:
					add("%s: datasourceUid %q, want %q or %q", dw, d.DatasourceUID, ProvisionedDatasourceUID, ExpressionDatasourceUID)
				}
				if m, _ := d.Model["refId"].(string); m != "" && m != d.RefID {
					add("%s: model refId %q differs", dw, m)
				}
				refs[d.RefID] = true
			}
			if !refs[r.Condition] {
				add("%s: condition %q is not a refId of its data", rw, r.Condition)
			}
		}
	}
	return errs
}

func validateExpression(model map[string]any, earlier map[string]bool) error {
	typ, _ := model["type"].(string)
	input, _ := model["expression"].(string)
	if !earlier[input] {
		return fmt.Errorf("%s reads %q, which is not an earlier node", typ, input)
	}
	switch typ {
	case "reduce":
		red, _ := model["reducer"].(string)
		if !slices.Contains(Reducers, red) {
			return fmt.Errorf("reducer %q is not one of %v", red, Reducers)
		}
		_, err := reduceSettings(model)
		return err
	case "threshold":
		_, _, err := thresholdSettings(model)
		return err
	default:
		return fmt.Errorf("expression type %q: only reduce and threshold are used and evaluated here", typ)
	}
}

// DashboardProvidersFile is Grafana's dashboard provisioning format.
type DashboardProvidersFile struct {
	APIVersion int                 `yaml:"apiVersion"`
	Providers  []DashboardProvider `yaml:"providers"`
}

// DashboardProvider is one dashboards provider.
type DashboardProvider struct {
	Name                  string `yaml:"name"`
	OrgID                 int    `yaml:"orgId"`
	Folder                string `yaml:"folder"`
	FolderUID             string `yaml:"folderUid"`
	Type                  string `yaml:"type"`
	DisableDeletion       bool   `yaml:"disableDeletion"`
	UpdateIntervalSeconds int    `yaml:"updateIntervalSeconds"`
	AllowUIUpdates        bool   `yaml:"allowUiUpdates"`
	Options               struct {
		Path                      string `yaml:"path"`
		FoldersFromFilesStructure bool   `yaml:"foldersFromFilesStructure"`
	} `yaml:"options"`
}

// LoadDashboardProviders reads and decodes a dashboard provisioning file.
func LoadDashboardProviders(path string) (*DashboardProvidersFile, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f DashboardProvidersFile
	if err := yaml.Unmarshal(raw, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &f, nil
}

// Validate checks the fields Grafana needs of a file provider.
func (f *DashboardProvidersFile) Validate() []error {
	var errs []error
	if f.APIVersion != 1 {
		errs = append(errs, fmt.Errorf("apiVersion %d, want 1", f.APIVersion))
	}
	if len(f.Providers) == 0 {
		errs = append(errs, fmt.Errorf("no providers"))
	}
	for _, p := range f.Providers {
		if p.Name == "" {
			errs = append(errs, fmt.Errorf("provider without a name"))
		}
		if p.Type != "file" {
			errs = append(errs, fmt.Errorf("provider %q: type %q, want file", p.Name, p.Type))
		}
		if p.Options.Path == "" {
			errs = append(errs, fmt.Errorf("provider %q: options.path missing", p.Name))
		}
	}
	return errs
}
