// Package query builds provider URLs.
package query

import (
	"net/url"
	"strings"
)

// Add returns base (an endpoint URL, possibly with a query of its own, such
// as a tenant parameter) with q appended to its query. base's own query is
// kept byte for byte.
func Add(base string, q url.Values) string {
	u, err := url.Parse(base)
	if err != nil {
		return base
	}
	// Spaces as %20, as encodeURIComponent writes them (the providers'
	// guides say so); a literal "+" is already %2B.
	enc := strings.ReplaceAll(q.Encode(), "+", "%20")
	if u.RawQuery != "" {
		enc = u.RawQuery + "&" + enc
	}
	u.RawQuery = enc
	return u.String()
}
