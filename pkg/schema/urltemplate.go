package schema

import (
	"strings"
	"unicode/utf8"
)

// URLTemplate is the privacy-safe form of a request URL.
type URLTemplate struct {
	// Template is the url.template value, e.g. "/v1/users/{id}".
	Template string
	// ServerAddress is the server.address value: the host lowercased, or ""
	// when the URL has no host or the host is an IP literal.
	ServerAddress string
}

// TemplateURL applies rules.url_template to a raw URL (absolute,
// scheme-relative or an absolute path). Hand-written: the rules are the
// project's own and must behave identically in Swift, so no URL library's
// parsing quirks are involved.
func TemplateURL(raw string) (URLTemplate, error) {
	rules := Default().Rules.URLTemplate
	if len(raw) > rules.MaxInputBytes {
		return URLTemplate{}, newErr(CodeTooLong, "URL is %d bytes, limit %d", len(raw), rules.MaxInputBytes)
	}
	if !utf8.ValidString(raw) {
		return URLTemplate{}, newErr(CodeInvalidURL, "not valid UTF-8")
	}
	for i, r := range raw {
		if r < 0x21 || r >= 0x7f && r <= 0x9f {
			return URLTemplate{}, newErr(CodeInvalidURL, "control character or space U+%04X at byte %d", r, i)
		}
	}
	s := raw
	if i := strings.IndexByte(s, '#'); i >= 0 {
		s = s[:i]
	}
	if i := strings.IndexByte(s, '?'); i >= 0 {
		s = s[:i]
	}

	var out URLTemplate
	var path string
	switch {
	case strings.HasPrefix(s, "//"):
		host, p, err := splitAuthority(s[2:])
		if err != nil {
			return URLTemplate{}, err
		}
		out.ServerAddress, path = host, p
	case strings.HasPrefix(s, "/"):
		path = s
	default:
		i := strings.Index(s, "://")
		if i <= 0 || !validScheme(s[:i]) {
			return URLTemplate{}, newErr(CodeInvalidURL, "want an absolute URL, a scheme-relative URL or a path")
		}
		host, p, err := splitAuthority(s[i+3:])
		if err != nil {
			return URLTemplate{}, err
		}
		out.ServerAddress, path = host, p
	}

	idPh, _ := rules.Placeholders.Get("id")
	redactedPh, _ := rules.Placeholders.Get("redacted")
	segs := strings.Split(path, "/")
	for i, seg := range segs {
		if j := strings.IndexByte(seg, ';'); j >= 0 {
			segs[i] = seg[:j]
		}
	}
	path = collapseSlashes(strings.Join(segs, "/"))
	if path == "" {
		path = "/"
	}
	segs = strings.Split(path, "/")
	for i, seg := range segs {
		decoded, ok := percentDecode(seg)
		if !ok {
			return URLTemplate{}, newErr(CodeInvalidURL, "broken percent-encoding in %q", seg)
		}
		switch classifySegment(decoded) {
		case segID:
			seg = idPh
		case segRedacted:
			seg = redactedPh
		}
		segs[i] = seg
	}
	out.Template = strings.Join(segs, "/")
	if len(out.Template) > rules.MaxTemplateBytes {
		return URLTemplate{}, newErr(CodeTooLong, "template is %d bytes, limit %d", len(out.Template), rules.MaxTemplateBytes)
	}
	return out, nil
}

func validScheme(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isASCIILetter(c):
		case i > 0 && (isDigit(c) || c == '+' || c == '.' || c == '-'):
		default:
			return false
		}
	}
	return s != ""
}

// splitAuthority splits "authority/path" and returns the server address
// ("" for IP literals) and the path.
func splitAuthority(s string) (host, path string, err error) {
	auth := s
	if i := strings.IndexByte(s, '/'); i >= 0 {
		auth, path = s[:i], s[i:]
	}
	if i := strings.LastIndexByte(auth, '@'); i >= 0 {
		auth = auth[i+1:]
	}
	if strings.HasPrefix(auth, "[") {
		if strings.IndexByte(auth, ']') < 0 {
			return "", "", newErr(CodeInvalidURL, "unterminated IPv6 literal")
		}
		return "", path, nil
	}
	if i := strings.IndexByte(auth, ':'); i >= 0 {
		auth = auth[:i]
	}
	if auth == "" {
		return "", "", newErr(CodeInvalidURL, "empty host")
	}
	if strings.ContainsAny(auth, "[]") {
		return "", "", newErr(CodeInvalidURL, "'[' or ']' outside an IPv6 literal")
	}
	if isIPv4(auth) {
		return "", path, nil
	}
	return asciiLower(auth), path, nil
}

func collapseSlashes(p string) string {
	if !strings.Contains(p, "//") {
		return p
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] == '/' && i > 0 && p[i-1] == '/' {
			continue
		}
		b.WriteByte(p[i])
	}
	return b.String()
}

func percentDecode(s string) (string, bool) {
	if strings.IndexByte(s, '%') < 0 {
		return s, true
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b = append(b, s[i])
			continue
		}
		if i+2 >= len(s) || hexNibbleAnyCase(s[i+1]) > 15 || hexNibbleAnyCase(s[i+2]) > 15 {
			return "", false
		}
		b = append(b, hexNibbleAnyCase(s[i+1])<<4|hexNibbleAnyCase(s[i+2]))
		i += 2
	}
	return string(b), true
}

type segClass int

const (
	segKeep segClass = iota
	segID
	segRedacted
)

// classifySegment applies the classification step of rules.url_template to
// a percent-decoded path segment; the first matching rule wins.
func classifySegment(s string) segClass {
	switch {
	case strings.IndexByte(s, '@') >= 0:
		return segRedacted
	case isIPv4(s):
		return segRedacted
	case len(s) >= 8 && s[0] == '+' && allDigits(s[1:]):
		return segRedacted
	case allDigits(s):
		return segID
	case isUUID(s):
		return segID
	case len(s) >= 16 && allHexAnyCase(s):
		return segID
	case len(s) >= 16 && isToken(s):
		return segID
	case longestDigitRun(s) >= 4:
		return segID
	}
	return segKeep
}

func isDigit(c byte) bool       { return c >= '0' && c <= '9' }
func isASCIILetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func hexNibbleAnyCase(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10
	}
	return 0xff
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

func allHexAnyCase(s string) bool {
	for i := 0; i < len(s); i++ {
		if hexNibbleAnyCase(s[i]) > 15 {
			return false
		}
	}
	return s != ""
}

// isIPv4 reports four dot-separated groups of 1 to 3 decimal digits.
func isIPv4(s string) bool {
	groups := strings.Split(s, ".")
	if len(groups) != 4 {
		return false
	}
	for _, g := range groups {
		if len(g) < 1 || len(g) > 3 || !allDigits(g) {
			return false
		}
	}
	return true
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if s[i] != '-' {
				return false
			}
		} else if hexNibbleAnyCase(s[i]) > 15 {
			return false
		}
	}
	return true
}

// isToken: only [A-Za-z0-9_-] with at least one letter and one digit.
func isToken(s string) bool {
	var letter, digit bool
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isDigit(c):
			digit = true
		case isASCIILetter(c):
			letter = true
		case c == '_' || c == '-':
		default:
			return false
		}
	}
	return letter && digit
}

func longestDigitRun(s string) int {
	best, run := 0, 0
	for i := 0; i < len(s); i++ {
		if isDigit(s[i]) {
			run++
			best = max(best, run)
		} else {
			run = 0
		}
	}
	return best
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
