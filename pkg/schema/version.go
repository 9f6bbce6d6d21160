package schema

import (
	"strconv"
	"strings"
)

// Version is a MAJOR.MINOR.PATCH schema version.
type Version struct {
	Major, Minor, Patch uint64
}

func (v Version) String() string {
	return strconv.FormatUint(v.Major, 10) + "." + strconv.FormatUint(v.Minor, 10) + "." + strconv.FormatUint(v.Patch, 10)
}

// Less reports whether v precedes w.
func (v Version) Less(w Version) bool {
	if v.Major != w.Major {
		return v.Major < w.Major
	}
	if v.Minor != w.Minor {
		return v.Minor < w.Minor
	}
	return v.Patch < w.Patch
}

// ParseVersion parses a version in the schema's semver format (no
// pre-release or build part, no leading zeros).
func ParseVersion(s string) (Version, error) {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return Version{}, newErr(CodeBadVersion, "%q is not MAJOR.MINOR.PATCH", s)
	}
	var out [3]uint64
	for i, p := range parts {
		if p == "" || (len(p) > 1 && p[0] == '0') {
			return Version{}, newErr(CodeBadVersion, "%q is not MAJOR.MINOR.PATCH", s)
		}
		for j := 0; j < len(p); j++ {
			if p[j] < '0' || p[j] > '9' {
				return Version{}, newErr(CodeBadVersion, "%q is not MAJOR.MINOR.PATCH", s)
			}
		}
		n, err := strconv.ParseUint(p, 10, 64)
		if err != nil {
			return Version{}, newErr(CodeBadVersion, "%q: %v", s, err)
		}
		out[i] = n
	}
	return Version{out[0], out[1], out[2]}, nil
}

// CanRead reports whether data stamped with stitch.schema.version = v can be
// read by an implementation of the schema version `current`: v must have the
// current major or the previous one. A newer minor or patch of a readable
// major is readable (minors only add; unknown items are ignored).
func CanRead(current, v string) error {
	cur, err := ParseVersion(current)
	if err != nil {
		return err
	}
	got, err := ParseVersion(v)
	if err != nil {
		return err
	}
	if got.Major == cur.Major || (cur.Major > 0 && got.Major == cur.Major-1) {
		return nil
	}
	return newErr(CodeBadVersion, "schema %s reads only the current and the previous major version, not %s", current, v)
}
