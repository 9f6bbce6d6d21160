package demoworld

import (
	"fmt"
	"regexp"
)

// A variant is another app of the same shape: the same backends, faults and
// endpoints, but its own app service name, app versions and app-facing
// hosts. Two worlds of different variants can share a stack and a time
// window and still be told apart by what the product filters and groups on
// (service.name, service.version, server.address), as two real apps would.
// The default variant ("") is the demo world itself, unchanged.

var variantPattern = regexp.MustCompile(`^[a-z][a-z0-9]{0,15}$`)

// naming maps the world's base vocabulary to its variant's.
type naming struct{ variant string }

func newNaming(variant string) (naming, error) {
	if variant != "" && !variantPattern.MatchString(variant) {
		return naming{}, fmt.Errorf("demoworld: variant %q must be 1-16 lowercase letters and digits, starting with a letter", variant)
	}
	return naming{variant: variant}, nil
}

// appService is the app's service.name.
func (n naming) appService() string {
	if n.variant == "" {
		return AppServiceName
	}
	return "com.stitch." + n.variant + ".ios"
}

// appVersions are the app's service.version values: a variant's never
// equal the default world's.
func (n naming) appVersions() []string {
	if n.variant == "" {
		return appVersions
	}
	return []string{"9.0.0+" + n.variant, "9.1.0+" + n.variant, "9.2.0+" + n.variant}
}

// host is the name the app addresses for a logical host: the variant's app
// calls its own gateway and legacy host. Backend-to-backend hosts stay.
func (n naming) host(h string) string {
	if n.variant == "" || (h != hostAPI && h != hostLegacy) {
		return h
	}
	return n.variant + "-" + h
}
