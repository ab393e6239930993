package verify

import (
	"net/url"
	"strings"
)

// sameOrigin reports whether iss is an absolute URL with the same origin
// (scheme, host and port, RFC 6454 §4) as ref, and with no user
// information, query or fragment (OIDC Core §2: an issuer is an https URL
// with no query or fragment). ref is a configured URL that has passed the
// transport rule, so an iss on its origin is https unless ref is plain
// http on loopback (or explicitly allowed).
func sameOrigin(iss, ref string) bool {
	u, err := url.Parse(iss)
	if err != nil || u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.Opaque != "" {
		return false
	}
	o, ok := originOf(u)
	if !ok {
		return false
	}
	r, err := url.Parse(ref)
	if err != nil {
		return false
	}
	ro, ok := originOf(r)
	return ok && o == ro
}

// origin returns ref's origin as scheme://host:port, or ref itself if it
// is not an absolute URL.
func origin(ref string) string {
	u, err := url.Parse(ref)
	if err != nil {
		return ref
	}
	if o, ok := originOf(u); ok {
		return o
	}
	return ref
}

// originOf returns u's origin with the scheme and host lower-cased and the
// default port written out, so "https://A.example" and
// "https://a.example:443" compare equal.
func originOf(u *url.URL) (string, bool) {
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	if host == "" || (scheme != "https" && scheme != "http") {
		return "", false
	}
	port := u.Port()
	if port == "" {
		port = "443"
		if scheme == "http" {
			port = "80"
		}
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return scheme + "://" + host + ":" + port, true
}
