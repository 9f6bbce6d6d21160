package schema

import (
	"math"
	"strings"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
)

// Validate checks one attribute value against the embedded schema. See
// (*Spec).Validate.
func Validate(name string, value any) error {
	return Default().Validate(name, value)
}

// ValidateKeyValue validates an OpenTelemetry attribute.
func ValidateKeyValue(kv attribute.KeyValue) error {
	return Default().Validate(string(kv.Key), attributeValue(kv.Value))
}

func attributeValue(v attribute.Value) any {
	switch v.Type() {
	case attribute.STRING:
		return v.AsString()
	case attribute.INT64:
		return v.AsInt64()
	case attribute.FLOAT64:
		return v.AsFloat64()
	case attribute.BOOL:
		return v.AsBool()
	}
	return v.AsInterface()
}

// Validate checks one attribute value in the order of rules.validation.order
// and returns an *Error with the first failing reason code, or nil.
//
// Go types: string attributes take string; int attributes take any Go
// integer type; double attributes take float32 or float64; boolean
// attributes take bool. Anything else is wrong_type.
func (s *Spec) Validate(name string, value any) error {
	a, ok := s.attrs[name]
	if !ok {
		if s.IsForbidden(name) {
			return newErr(CodeForbiddenAttribute, "%s must never be emitted (use %s)", name, s.forbidden[name].Instead)
		}
		return newErr(CodeUnknownAttribute, "%q is not defined by schema %s", name, s.Version)
	}
	switch a.Type {
	case TypeString:
		str, ok := value.(string)
		if !ok {
			return newErr(CodeWrongType, "%s is a string, got %T", name, value)
		}
		return s.validateString(a, str)
	case TypeInt:
		n, inRange, ok := asInt64(value)
		if !ok {
			return newErr(CodeWrongType, "%s is an int, got %T", name, value)
		}
		if !inRange {
			return newErr(CodeOutOfRange, "%s: %v does not fit in int64", name, value)
		}
		v := a.Validation
		if v.Min != nil && float64(n) < *v.Min || v.Max != nil && float64(n) > *v.Max {
			return newErr(CodeOutOfRange, "%s: %d is outside %s", name, n, rangeText(v))
		}
	case TypeDouble:
		var f float64
		switch x := value.(type) {
		case float64:
			f = x
		case float32:
			f = float64(x)
		default:
			return newErr(CodeWrongType, "%s is a double, got %T", name, value)
		}
		v := a.Validation
		if math.IsNaN(f) || math.IsInf(f, 0) || v.Min != nil && f < *v.Min || v.Max != nil && f > *v.Max {
			return newErr(CodeOutOfRange, "%s: %v is outside %s", name, f, rangeText(v))
		}
	case TypeBool:
		if _, ok := value.(bool); !ok {
			return newErr(CodeWrongType, "%s is a boolean, got %T", name, value)
		}
	}
	return nil
}

func rangeText(v Validation) string {
	lo, hi := "-inf", "+inf"
	if v.Min != nil {
		lo = trimFloat(*v.Min)
	}
	if v.Max != nil {
		hi = trimFloat(*v.Max)
	}
	return "[" + lo + ", " + hi + "]"
}

func trimFloat(f float64) string { return formatFloat(f) }

func asInt64(v any) (n int64, inRange, ok bool) {
	switch x := v.(type) {
	case int:
		return int64(x), true, true
	case int8:
		return int64(x), true, true
	case int16:
		return int64(x), true, true
	case int32:
		return int64(x), true, true
	case int64:
		return x, true, true
	case uint:
		return int64(x), uint64(x) <= math.MaxInt64, true // #nosec G115 -- the second result says whether it fit
	case uint8:
		return int64(x), true, true
	case uint16:
		return int64(x), true, true
	case uint32:
		return int64(x), true, true
	case uint64:
		return int64(x), x <= math.MaxInt64, true // #nosec G115 -- the second result says whether it fit
	}
	return 0, false, false
}

func (s *Spec) validateString(a *Attribute, str string) error {
	v := a.Validation
	if str == "" {
		return newErr(CodeEmptyValue, "%s is empty", a.Name)
	}
	if v.MaxLength > 0 && len(str) > v.MaxLength {
		return newErr(CodeOversized, "%s is %d bytes, limit %d", a.Name, len(str), v.MaxLength)
	}
	if !utf8.ValidString(str) {
		return newErr(CodeBadCharacters, "%s is not valid UTF-8", a.Name)
	}
	for _, r := range str {
		if r < 0x20 || r >= 0x7f && r <= 0x9f || r == 0x2028 || r == 0x2029 {
			return newErr(CodeBadCharacters, "%s contains the control character U+%04X", a.Name, r)
		}
	}
	if len(v.Enum) > 0 && !contains(v.Enum, str) {
		return newErr(CodeBadEnum, "%s: %q is not one of %s", a.Name, str, strings.Join(v.Enum, ", "))
	}
	switch v.Format {
	case "":
	case "session_id":
		if err := ValidSessionID(str); err != nil {
			return err
		}
	case "url_template":
		if err := validURLTemplate(str); err != nil {
			return err
		}
	case "trace_id":
		if err := ValidTraceID(str); err != nil {
			return newErr(CodePatternMismatch, "%s: %v", a.Name, err)
		}
	case "span_id":
		if err := ValidSpanID(str); err != nil {
			return newErr(CodePatternMismatch, "%s: %v", a.Name, err)
		}
	default:
		f, _ := s.Formats.Get(v.Format)
		if re := s.formatRegex[v.Format]; re != nil && !re.MatchString(str) || contains(f.NotIn, str) {
			return newErr(CodePatternMismatch, "%s is not in the %s format", a.Name, v.Format)
		}
	}
	if v.PIIScan {
		for _, p := range s.pii {
			if p.re.MatchString(str) {
				return newErr(CodePIIDetected, "%s looks like it contains an %s", a.Name, p.name)
			}
		}
	}
	if re := s.attrRegex[a.Name]; re != nil && !re.MatchString(str) {
		return newErr(CodePatternMismatch, "%s does not match %s", a.Name, v.Regex)
	}
	return nil
}

// validURLTemplate checks the url_template format: the value is what
// TemplateURL produces for itself.
func validURLTemplate(s string) error {
	if !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") {
		return newErr(CodePatternMismatch, "url.template must start with a single '/'")
	}
	if strings.ContainsAny(s, "?#") {
		return newErr(CodePIIInURL, "url.template must not contain a query string or fragment")
	}
	t, err := TemplateURL(s)
	if err != nil {
		return newErr(CodePatternMismatch, "url.template: %v", err)
	}
	if t.Template != s {
		return newErr(CodePIIInURL, "url.template still contains identifiers or parameters (templated: %s)", t.Template)
	}
	return nil
}
