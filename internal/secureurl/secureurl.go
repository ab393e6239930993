// Package secureurl holds the transport rule for every URL this module
// fetches or sends credentials to (token endpoints, key sets, discovery
// documents): https, unless the host is a loopback address or the caller
// opted in to plain http explicitly.
package secureurl

import (
	"errors"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// ErrInsecure: a URL uses plain http on a host that is not loopback, and
// no Insecure… setting allows it.
var ErrInsecure = errors.New("sso: plain http is allowed only on loopback hosts (or with an explicit Insecure setting)")

// Check returns nil when raw is an absolute http(s) URL that may be used:
// https always; http when its host is loopback ([IsLoopback]) or when
// insecure is true. Without TLS nothing authenticates the server, which is
// what makes an unsigned-but-fetched ID token trustworthy (OIDC Core
// §3.1.3.7) and what keeps a key set from being swapped in transit.
func Check(raw string, insecure bool) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return errors.New("sso: " + quoteShort(raw) + " is not an absolute URL")
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return nil
	case "http":
		if insecure || IsLoopback(u.Hostname()) {
			return nil
		}
		return ErrInsecure
	}
	return errors.New("sso: " + quoteShort(raw) + " is not an http(s) URL")
}

// IsLoopback reports whether host (without port) names this machine:
// "localhost" or a loopback IP literal (127.0.0.0/8, ::1).
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
	return ip != nil && ip.IsLoopback()
}

// quoteShort quotes s, cut to a length fit for an error message.
func quoteShort(s string) string {
	const max = 120
	if len(s) > max {
		s = s[:max] + "…"
	}
	return strconv.Quote(s)
}
