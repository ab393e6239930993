// Package query builds provider URLs.
package query

import (
	"net/url"
	"strings"
)

// Add returns base with q added to the query base already has (a redirect
// URL such as "https://app/login?multicart" keeps its own parameters).
func Add(base string, q url.Values) string {
	u, err := url.Parse(base)
	if err != nil {
		return base
	}
	all := u.Query()
	for k, v := range q {
		all[k] = v
	}
	// Spaces as %20, as encodeURIComponent writes them (the providers'
	// guides say so); a literal "+" is already %2B.
	u.RawQuery = strings.ReplaceAll(all.Encode(), "+", "%20")
	return u.String()
}
