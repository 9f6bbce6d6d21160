package schema

import (
	"bytes"
	"fmt"
	"regexp"
	"sync"

	"go.yaml.in/yaml/v3"

	schemafiles "github.com/stitch-observability/stitch/schema"
)

// Attribute value types.
const (
	TypeString = "string"
	TypeInt    = "int"
	TypeDouble = "double"
	TypeBool   = "boolean"
)

// Signals, layers, requirement levels, cardinality and privacy classes that
// the schema may use.
var (
	knownTypes        = []string{TypeString, TypeInt, TypeDouble, TypeBool}
	knownSignals      = []string{"span", "span_event", "log", "metric", "resource"}
	knownLayers       = []string{"device", "network", "backend"}
	knownRequirements = []string{"required", "optional"}
	knownCardinality  = []string{"low", "medium", "high", "unbounded"}
	knownPrivacy      = []string{"safe", "pseudonymous", "must-be-redacted"}
)

// Spec is the parsed schema (schema/stitch-telemetry.yaml).
type Spec struct {
	Schema      string             `yaml:"schema"`
	Version     string             `yaml:"version"`
	Description string             `yaml:"description"`
	Formats     OrderedMap[Format] `yaml:"formats"`
	Attributes  []Attribute        `yaml:"attributes"`
	Forbidden   []Forbidden        `yaml:"forbidden_attributes"`
	Events      []Event            `yaml:"events"`
	Headers     []Header           `yaml:"headers"`
	Rules       Rules              `yaml:"rules"`
	ReasonCodes []ReasonCode       `yaml:"reason_codes"`

	attrs       map[string]*Attribute
	forbidden   map[string]*Forbidden
	attrRegex   map[string]*regexp.Regexp
	formatRegex map[string]*regexp.Regexp
	pii         []namedRegexp
}

// Format is a named value format that attributes refer to.
type Format struct {
	Description string   `yaml:"description"`
	Regex       string   `yaml:"regex"`
	NotIn       []string `yaml:"not_in"`
	Example     string   `yaml:"example"`
}

// Attribute describes one attribute.
type Attribute struct {
	Name        string     `yaml:"name"`
	Type        string     `yaml:"type"`
	Brief       string     `yaml:"brief"`
	Signals     []string   `yaml:"signals"`
	Layers      []string   `yaml:"layers"`
	Requirement string     `yaml:"requirement"`
	Condition   string     `yaml:"condition"`
	Cardinality string     `yaml:"cardinality"`
	Privacy     string     `yaml:"privacy"`
	Validation  Validation `yaml:"validation"`
	Since       string     `yaml:"since"`
	Examples    []string   `yaml:"examples"`
}

// Namespace returns "stitch" for project attributes and "semconv" for
// OpenTelemetry semantic-convention attributes.
func (a *Attribute) Namespace() string {
	if len(a.Name) > 7 && a.Name[:7] == "stitch." {
		return "stitch"
	}
	return "semconv"
}

// Validation holds the value constraints of an attribute.
type Validation struct {
	MaxLength int      `yaml:"max_length"`
	Regex     string   `yaml:"regex"`
	Enum      []string `yaml:"enum"`
	Format    string   `yaml:"format"`
	Min       *float64 `yaml:"min"`
	Max       *float64 `yaml:"max"`
	PIIScan   bool     `yaml:"pii_scan"`
}

// Forbidden is an attribute that must never be emitted.
type Forbidden struct {
	Name    string `yaml:"name"`
	Instead string `yaml:"instead"`
}

// Event describes an event (a log record with an event name).
type Event struct {
	Name       string     `yaml:"name"`
	Brief      string     `yaml:"brief"`
	Signals    []string   `yaml:"signals"`
	Layers     []string   `yaml:"layers"`
	Since      string     `yaml:"since"`
	Attributes []EventRef `yaml:"attributes"`
}

// EventRef is an attribute carried by an event.
type EventRef struct {
	Name        string `yaml:"name"`
	Requirement string `yaml:"requirement"`
}

// Header describes a propagation header.
type Header struct {
	Name        string   `yaml:"name"`
	Brief       string   `yaml:"brief"`
	Layers      []string `yaml:"layers"`
	Requirement string   `yaml:"requirement"`
	Condition   string   `yaml:"condition"`
	Format      string   `yaml:"format"`
	Since       string   `yaml:"since"`
}

// ReasonCode documents one Code.
type ReasonCode struct {
	Code    string `yaml:"code"`
	Meaning string `yaml:"meaning"`
}

// Rules holds the behavioural rules of the schema.
type Rules struct {
	Propagation PropagationRules `yaml:"propagation"`
	Session     SessionRules     `yaml:"session"`
	Privacy     PrivacyRules     `yaml:"privacy"`
	URLTemplate URLTemplateRules `yaml:"url_template"`
	Sampling    SamplingRules    `yaml:"sampling"`
	Validation  ValidationRules  `yaml:"validation"`
	Versioning  VersioningRules  `yaml:"versioning"`
}

// ValidationRules document the order of attribute checks.
type ValidationRules struct {
	Summary string   `yaml:"summary"`
	Order   []string `yaml:"order"`
}

// PropagationRules covers traceparent and baggage.
type PropagationRules struct {
	Summary     string           `yaml:"summary"`
	Traceparent TraceparentRules `yaml:"traceparent"`
	Baggage     BaggageRules     `yaml:"baggage"`
}

// TraceparentRules are the traceparent decoding rules.
type TraceparentRules struct {
	Implementation string             `yaml:"implementation"`
	MaxLength      int                `yaml:"max_length"`
	Rules          []string           `yaml:"rules"`
	ErrorOrder     []string           `yaml:"error_order"`
	Conditions     OrderedMap[string] `yaml:"conditions"`
}

// BaggageRules are the baggage rules.
type BaggageRules struct {
	Implementation string   `yaml:"implementation"`
	SessionMember  string   `yaml:"session_member"`
	MaxBytes       int      `yaml:"max_bytes"`
	MaxMembers     int      `yaml:"max_members"`
	Rules          []string `yaml:"rules"`
}

// SessionRules are the session boundary rules.
type SessionRules struct {
	Summary             string             `yaml:"summary"`
	BackgroundTimeoutMs int64              `yaml:"background_timeout_ms"`
	MaxDurationMs       int64              `yaml:"max_duration_ms"`
	PersistedState      []string           `yaml:"persisted_state"`
	Events              OrderedMap[string] `yaml:"events"`
	Expiry              string             `yaml:"expiry"`
}

// PrivacyRules are the privacy rules.
type PrivacyRules struct {
	Summary     string             `yaml:"summary"`
	Consent     []string           `yaml:"consent"`
	HMAC        HMACRules          `yaml:"hmac"`
	PIIPatterns OrderedMap[string] `yaml:"pii_patterns"`
}

// HMACRules define pseudonymous identifiers.
type HMACRules struct {
	Algorithm   string `yaml:"algorithm"`
	MinKeyBytes int    `yaml:"min_key_bytes"`
	Input       string `yaml:"input"`
	Output      string `yaml:"output"`
}

// URLTemplateRules define URL templating.
type URLTemplateRules struct {
	Summary          string             `yaml:"summary"`
	MaxInputBytes    int                `yaml:"max_input_bytes"`
	MaxTemplateBytes int                `yaml:"max_template_bytes"`
	Placeholders     OrderedMap[string] `yaml:"placeholders"`
	Steps            []string           `yaml:"steps"`
}

// SamplingRules define the sampling decision.
type SamplingRules struct {
	Summary                   string   `yaml:"summary"`
	DefaultRate               float64  `yaml:"default_rate"`
	DefaultLatencyThresholdMs int64    `yaml:"default_latency_threshold_ms"`
	Algorithm                 []string `yaml:"algorithm"`
	Outputs                   []string `yaml:"outputs"`
}

// VersioningRules define schema versioning.
type VersioningRules struct {
	Summary        string `yaml:"summary"`
	ReadableMajors string `yaml:"readable_majors"`
}

// OrderedMap is a YAML mapping that keeps its key order.
type OrderedMap[V any] struct {
	Keys   []string
	Values map[string]V
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (m *OrderedMap[V]) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: expected a mapping", n.Line)
	}
	m.Keys = nil
	m.Values = make(map[string]V, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i].Value
		if _, dup := m.Values[k]; dup {
			return fmt.Errorf("line %d: duplicate key %q", n.Content[i].Line, k)
		}
		var v V
		if err := n.Content[i+1].Decode(&v); err != nil {
			return err
		}
		m.Keys = append(m.Keys, k)
		m.Values[k] = v
	}
	return nil
}

// Get returns the value for key.
func (m OrderedMap[V]) Get(key string) (V, bool) {
	v, ok := m.Values[key]
	return v, ok
}

type namedRegexp struct {
	name string
	re   *regexp.Regexp
}

// Load parses and checks a schema document. It rejects unknown fields,
// unknown classes, duplicate names, regexes that do not compile and
// references to undefined formats or attributes.
func Load(doc []byte) (*Spec, error) {
	dec := yaml.NewDecoder(bytes.NewReader(doc))
	dec.KnownFields(true)
	var s Spec
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("stitch schema: parse: %w", err)
	}
	if err := s.check(); err != nil {
		return nil, fmt.Errorf("stitch schema: %w", err)
	}
	return &s, nil
}

var defaultSpec = sync.OnceValues(func() (*Spec, error) { return Load(schemafiles.YAML) })

// Default returns the embedded schema. It panics if the embedded YAML is
// invalid, which the package tests rule out.
func Default() *Spec {
	s, err := defaultSpec()
	if err != nil {
		panic(err)
	}
	return s
}

// Attribute returns the definition of the named attribute.
func (s *Spec) Attribute(name string) (*Attribute, bool) {
	a, ok := s.attrs[name]
	return a, ok
}

// IsForbidden reports whether name must never be emitted.
func (s *Spec) IsForbidden(name string) bool {
	_, ok := s.forbidden[name]
	return ok
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func (s *Spec) check() error {
	if s.Schema != "stitch-telemetry" {
		return fmt.Errorf("schema must be stitch-telemetry, got %q", s.Schema)
	}
	cur, err := ParseVersion(s.Version)
	if err != nil {
		return fmt.Errorf("version: %w", err)
	}
	checkSince := func(what, since string) error {
		v, err := ParseVersion(since)
		if err != nil {
			return fmt.Errorf("%s: since: %w", what, err)
		}
		if cur.Less(v) {
			return fmt.Errorf("%s: since %s is newer than the schema version %s", what, since, s.Version)
		}
		return nil
	}
	checkList := func(what, field string, got, allowed []string) error {
		if len(got) == 0 {
			return fmt.Errorf("%s: %s is empty", what, field)
		}
		for _, g := range got {
			if !contains(allowed, g) {
				return fmt.Errorf("%s: unknown %s %q", what, field, g)
			}
		}
		return nil
	}

	s.formatRegex = map[string]*regexp.Regexp{}
	for _, name := range s.Formats.Keys {
		f := s.Formats.Values[name]
		if f.Regex == "" {
			continue
		}
		re, err := regexp.Compile(f.Regex)
		if err != nil {
			return fmt.Errorf("format %s: %w", name, err)
		}
		s.formatRegex[name] = re
	}
	for _, name := range []string{"session_id", "trace_id", "span_id", "hmac_sha256_hex", "semver", "url_template"} {
		if _, ok := s.Formats.Get(name); !ok {
			return fmt.Errorf("format %s is missing", name)
		}
	}

	s.attrs = map[string]*Attribute{}
	s.attrRegex = map[string]*regexp.Regexp{}
	for i := range s.Attributes {
		a := &s.Attributes[i]
		what := "attribute " + a.Name
		if a.Name == "" {
			return fmt.Errorf("attribute #%d has no name", i)
		}
		if _, dup := s.attrs[a.Name]; dup {
			return fmt.Errorf("%s is defined twice", what)
		}
		s.attrs[a.Name] = a
		if !contains(knownTypes, a.Type) {
			return fmt.Errorf("%s: unknown type %q", what, a.Type)
		}
		if a.Brief == "" {
			return fmt.Errorf("%s: brief is empty", what)
		}
		if err := checkList(what, "signal", a.Signals, knownSignals); err != nil {
			return err
		}
		if err := checkList(what, "layer", a.Layers, knownLayers); err != nil {
			return err
		}
		if !contains(knownRequirements, a.Requirement) {
			return fmt.Errorf("%s: unknown requirement %q", what, a.Requirement)
		}
		if !contains(knownCardinality, a.Cardinality) {
			return fmt.Errorf("%s: unknown cardinality %q", what, a.Cardinality)
		}
		if !contains(knownPrivacy, a.Privacy) {
			return fmt.Errorf("%s: unknown privacy class %q", what, a.Privacy)
		}
		if err := checkSince(what, a.Since); err != nil {
			return err
		}
		v := a.Validation
		if v.Format != "" {
			if _, ok := s.Formats.Get(v.Format); !ok {
				return fmt.Errorf("%s: unknown format %q", what, v.Format)
			}
		}
		if v.Regex != "" {
			re, err := regexp.Compile(v.Regex)
			if err != nil {
				return fmt.Errorf("%s: %w", what, err)
			}
			s.attrRegex[a.Name] = re
		}
		isString := a.Type == TypeString
		isNumber := a.Type == TypeInt || a.Type == TypeDouble
		if !isString && (v.MaxLength != 0 || v.Regex != "" || len(v.Enum) != 0 || v.Format != "" || v.PIIScan) {
			return fmt.Errorf("%s: string constraints on a %s attribute", what, a.Type)
		}
		if !isNumber && (v.Min != nil || v.Max != nil) {
			return fmt.Errorf("%s: min/max on a %s attribute", what, a.Type)
		}
		if v.Min != nil && v.Max != nil && *v.Min > *v.Max {
			return fmt.Errorf("%s: min > max", what)
		}
	}

	s.forbidden = map[string]*Forbidden{}
	for i := range s.Forbidden {
		f := &s.Forbidden[i]
		if _, ok := s.attrs[f.Name]; ok {
			return fmt.Errorf("attribute %s is both defined and forbidden", f.Name)
		}
		s.forbidden[f.Name] = f
	}

	events := map[string]bool{}
	for _, e := range s.Events {
		what := "event " + e.Name
		if events[e.Name] {
			return fmt.Errorf("%s is defined twice", what)
		}
		events[e.Name] = true
		if err := checkList(what, "signal", e.Signals, knownSignals); err != nil {
			return err
		}
		if err := checkList(what, "layer", e.Layers, knownLayers); err != nil {
			return err
		}
		if err := checkSince(what, e.Since); err != nil {
			return err
		}
		for _, r := range e.Attributes {
			if _, ok := s.attrs[r.Name]; !ok {
				return fmt.Errorf("%s: unknown attribute %q", what, r.Name)
			}
			if !contains(knownRequirements, r.Requirement) {
				return fmt.Errorf("%s: attribute %s: unknown requirement %q", what, r.Name, r.Requirement)
			}
		}
	}
	headers := map[string]bool{}
	for _, h := range s.Headers {
		what := "header " + h.Name
		if headers[h.Name] {
			return fmt.Errorf("%s is defined twice", what)
		}
		headers[h.Name] = true
		if err := checkList(what, "layer", h.Layers, knownLayers); err != nil {
			return err
		}
		if !contains(knownRequirements, h.Requirement) {
			return fmt.Errorf("%s: unknown requirement %q", what, h.Requirement)
		}
		if err := checkSince(what, h.Since); err != nil {
			return err
		}
	}

	r := s.Rules
	if r.Session.BackgroundTimeoutMs <= 0 || r.Session.MaxDurationMs <= 0 {
		return fmt.Errorf("rules.session: timeouts must be positive")
	}
	if r.Propagation.Traceparent.MaxLength < 55 {
		return fmt.Errorf("rules.propagation.traceparent.max_length must be at least 55")
	}
	for _, c := range r.Propagation.Traceparent.ErrorOrder {
		if _, ok := r.Propagation.Traceparent.Conditions.Get(c); !ok {
			return fmt.Errorf("rules.propagation.traceparent: error_order code %s has no condition", c)
		}
	}
	if r.Propagation.Baggage.MaxBytes <= 0 || r.Propagation.Baggage.MaxMembers <= 0 || r.Propagation.Baggage.SessionMember == "" {
		return fmt.Errorf("rules.propagation.baggage: limits and session_member are required")
	}
	if r.URLTemplate.MaxInputBytes <= 0 || r.URLTemplate.MaxTemplateBytes <= 0 {
		return fmt.Errorf("rules.url_template: limits must be positive")
	}
	for _, p := range []string{"id", "redacted"} {
		if _, ok := r.URLTemplate.Placeholders.Get(p); !ok {
			return fmt.Errorf("rules.url_template.placeholders.%s is missing", p)
		}
	}
	if r.Privacy.HMAC.MinKeyBytes <= 0 {
		return fmt.Errorf("rules.privacy.hmac.min_key_bytes must be positive")
	}
	s.pii = nil
	for _, name := range r.Privacy.PIIPatterns.Keys {
		re, err := regexp.Compile(r.Privacy.PIIPatterns.Values[name])
		if err != nil {
			return fmt.Errorf("rules.privacy.pii_patterns.%s: %w", name, err)
		}
		s.pii = append(s.pii, namedRegexp{name, re})
	}
	codes := map[string]bool{}
	for _, c := range s.ReasonCodes {
		if codes[c.Code] {
			return fmt.Errorf("reason code %s is listed twice", c.Code)
		}
		codes[c.Code] = true
	}
	return nil
}
