// Package query builds provider URLs.
package query

import "net/url"

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
	u.RawQuery = all.Encode()
	return u.String()
}
