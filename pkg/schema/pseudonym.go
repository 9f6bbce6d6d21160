package schema

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
)

// PseudonymousID returns the pseudonymous form of an installation or user
// identifier: HMAC-SHA-256 of the identifier's exact UTF-8 bytes under key,
// as 64 lowercase hex characters (format hmac_sha256_hex). The key must be at
// least rules.privacy.hmac.min_key_bytes long (CodeWeakKey) and the
// identifier non-empty (CodeEmpty).
func PseudonymousID(key []byte, id string) (string, error) {
	if min := Default().Rules.Privacy.HMAC.MinKeyBytes; len(key) < min {
		return "", newErr(CodeWeakKey, "key is %d bytes, need at least %d", len(key), min)
	}
	if id == "" {
		return "", newErr(CodeEmpty, "empty identifier")
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	return hex.EncodeToString(m.Sum(nil)), nil
}
