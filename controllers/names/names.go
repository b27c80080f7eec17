// Package names derives Kubernetes object names from identities and other objects' names,
// within the length limits of the API and never colliding.
package names

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"
)

var notDNS = regexp.MustCompile(`[^a-z0-9-]+`)

// Slug turns s into a DNS name of at most size characters: lower case, other characters folded
// to '-', and a hash of the original so that different inputs never share a name.
func Slug(s string, size int) string {
	h := ShortHash(s)
	base := strings.Trim(notDNS.ReplaceAllString(strings.ToLower(s), "-"), "-")
	if limit := size - len(h) - 1; len(base) > limit {
		base = strings.TrimRight(base[:limit], "-")
	}
	return base + "-" + h
}

// ShortHash is six hex digits of the SHA-256 of s.
func ShortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:6]
}

// Namespace joins parts into a namespace name, shortened with a hash of the whole when it would
// pass the 63 characters a namespace name may have.
func Namespace(parts ...string) string {
	name := strings.Join(parts, "-")
	if len(name) <= 63 {
		return name
	}
	return strings.TrimRight(name[:56], "-") + "-" + ShortHash(name)
}

// Airlock is the namespace of a domain where sealed products wait for review, out of every
// member's reach.
func Airlock(domain string) string { return Namespace(domain, "airlock") }

// Outbox is the namespace of a domain that published products leave from, and the only one.
func Outbox(domain string) string { return Namespace(domain, "outbox") }

// Inbox is the namespace of a domain where outside data waits to be imported, out of every
// member's reach.
func Inbox(domain string) string { return Namespace(domain, "inbox") }
