package main

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/shopsso/sso/internal/secureurl"
	"github.com/shopsso/sso/providers/multicart"
	"github.com/shopsso/sso/sessioncodec"
)

// settings is the example's configuration, read from the environment.
type settings struct {
	Addr    string
	BaseURL string // "" until the listener is up when ADDR picks a port

	IstoresClientID, IstoresClientSecret string
	IstoresAuthURL, IstoresTokenURL      string

	MulticartClientID, MulticartClientSecret string
	MulticartAuthURL, MulticartTokenURL      string
	MulticartIssuer, MulticartJWKSURL        string

	MulticartServiceClientID, MulticartServiceClientSecret string
	MulticartAuthParams                                    url.Values // extra authorize parameters
	MulticartAPIAudience                                   string     // "aud" of tokens /api/me accepts

	// MulticartLogoutAtProvider logs customers out of Multicart too
	// (its end-session endpoint from discovery), returning to
	// BASE_URL/logout/return, which must be registered there.
	MulticartLogoutAtProvider bool

	RedisURL    string
	DatabaseURL string // PostgreSQL, when RedisURL is not set

	// SessionKeys seal sessions at rest (SESSION_KEYS: comma-separated
	// base64 keys of 32 bytes, the current one first). None: unsealed.
	SessionKeys [][]byte
	// sharedStore: REDIS_URL or DATABASE_URL is set, so sessions leave
	// the process.
	sharedStore bool
	// InsecureCookie (INSECURE_COOKIE=1) allows a session cookie without
	// the Secure attribute on a plain-http BASE_URL that is not loopback.
	InsecureCookie bool
}

func settingsFromEnv(getenv func(string) string) (settings, error) {
	s := settings{
		Addr:                  getenv("ADDR"),
		BaseURL:               strings.TrimRight(getenv("BASE_URL"), "/"),
		IstoresClientID:       getenv("ISTORES_CLIENT_ID"),
		IstoresClientSecret:   getenv("ISTORES_CLIENT_SECRET"),
		IstoresAuthURL:        getenv("ISTORES_AUTH_URL"),
		IstoresTokenURL:       getenv("ISTORES_TOKEN_URL"),
		MulticartClientID:     getenv("MULTICART_CLIENT_ID"),
		MulticartClientSecret: getenv("MULTICART_CLIENT_SECRET"),
		MulticartAuthURL:      getenv("MULTICART_AUTH_URL"),
		MulticartTokenURL:     getenv("MULTICART_TOKEN_URL"),
		MulticartIssuer:       getenv("MULTICART_ISSUER"),
		MulticartJWKSURL:      getenv("MULTICART_JWKS_URL"),

		MulticartServiceClientID:     getenv("MULTICART_SERVICE_CLIENT_ID"),
		MulticartServiceClientSecret: getenv("MULTICART_SERVICE_CLIENT_SECRET"),
		MulticartLogoutAtProvider:    getenv("MULTICART_LOGOUT_AT_PROVIDER") == "1",
		MulticartAPIAudience:         getenv("MULTICART_API_AUDIENCE"),
		RedisURL:                     getenv("REDIS_URL"),
		DatabaseURL:                  getenv("DATABASE_URL"),
	}
	if s.MulticartAPIAudience == "" {
		s.MulticartAPIAudience = multicart.ScopeAPI
	}
	s.sharedStore = s.RedisURL != "" || s.DatabaseURL != ""
	if v := getenv("SESSION_KEYS"); v != "" {
		keys, err := parseSessionKeys(v)
		if err != nil {
			return s, err
		}
		s.SessionKeys = keys
	}
	if v := getenv("MULTICART_AUTH_PARAMS"); v != "" {
		q, err := url.ParseQuery(v)
		if err != nil {
			return s, errors.New("MULTICART_AUTH_PARAMS must be a query string, such as prompt=consent")
		}
		s.MulticartAuthParams = q
	}
	if s.Addr == "" {
		s.Addr = "127.0.0.1:8080"
	}
	if _, _, err := net.SplitHostPort(s.Addr); err != nil {
		return s, errors.New("ADDR must be host:port")
	}
	if v := getenv("INSECURE_COOKIE"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return s, errors.New("INSECURE_COOKIE must be 1 or 0 (true or false)")
		}
		s.InsecureCookie = b
	}
	if s.BaseURL != "" {
		u, err := url.Parse(s.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return s, errors.New("BASE_URL must be an absolute http(s) URL")
		}
		if _, err := s.cookieSecure(s.BaseURL); err != nil {
			return s, err
		}
	}
	if _, _, err := s.configured(); err != nil {
		return s, err
	}
	return s, nil
}

// parseSessionKeys reads SESSION_KEYS: comma-separated keys of
// sessioncodec.KeySize bytes in standard or URL-safe base64, padded or not.
func parseSessionKeys(v string) ([][]byte, error) {
	var keys [][]byte
	for i, field := range strings.Split(v, ",") {
		field = strings.TrimSpace(field)
		var key []byte
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if k, err := enc.DecodeString(field); err == nil {
				key = k
				break
			}
		}
		if len(key) != sessioncodec.KeySize {
			return nil, fmt.Errorf("SESSION_KEYS: key %d is not %d bytes of base64 (make one with: openssl rand -base64 32)", i+1, sessioncodec.KeySize)
		}
		keys = append(keys, key)
	}
	return keys, nil
}

// configured reports which providers the environment configures, and
// refuses a provider with only some of its settings: a half-configured
// provider is a mistake, never a reason to fall back to the stand-in.
func (s settings) configured() (istores, multicart bool, err error) {
	is := []envSetting{
		{"ISTORES_CLIENT_ID", s.IstoresClientID, true},
		{"ISTORES_CLIENT_SECRET", s.IstoresClientSecret, true},
		{"ISTORES_AUTH_URL", s.IstoresAuthURL, false},
		{"ISTORES_TOKEN_URL", s.IstoresTokenURL, false},
	}
	// MULTICART_AUTH_PARAMS and MULTICART_LOGOUT_AT_PROVIDER are not
	// listed: they adjust whichever Multicart is served, the stand-in too.
	mc := []envSetting{
		{"MULTICART_CLIENT_ID", s.MulticartClientID, true},
		{"MULTICART_CLIENT_SECRET", s.MulticartClientSecret, false},
		{"MULTICART_AUTH_URL", s.MulticartAuthURL, false},
		{"MULTICART_TOKEN_URL", s.MulticartTokenURL, false},
		{"MULTICART_ISSUER", s.MulticartIssuer, false},
		{"MULTICART_JWKS_URL", s.MulticartJWKSURL, false},
		{"MULTICART_SERVICE_CLIENT_ID", s.MulticartServiceClientID, false},
		{"MULTICART_SERVICE_CLIENT_SECRET", s.MulticartServiceClientSecret, false},
	}
	if istores, err = complete("Istores", is); err != nil {
		return false, false, err
	}
	if multicart, err = complete("Multicart", mc); err != nil {
		return false, false, err
	}
	return istores, multicart, nil
}

// envSetting is one environment variable of a provider.
type envSetting struct {
	name     string
	value    string
	required bool
}

// complete reports whether any of a provider's settings is given, and
// refuses them when a required one is then missing.
func complete(provider string, settings []envSetting) (bool, error) {
	var given, missing []string
	for _, e := range settings {
		switch {
		case e.value != "":
			given = append(given, e.name)
		case e.required:
			missing = append(missing, e.name)
		}
	}
	if len(given) == 0 {
		return false, nil
	}
	if len(missing) > 0 {
		return false, fmt.Errorf("%s is half configured: %s set but %s missing (set all of them, or none to use the built-in stand-in)",
			provider, strings.Join(given, ", "), strings.Join(missing, ", "))
	}
	return true, nil
}

// usesStandIn reports whether the example serves the built-in stand-in:
// only when no provider is configured at all.
func (s settings) usesStandIn() bool {
	istores, multicart, err := s.configured()
	return err == nil && !istores && !multicart
}

// baseURLFor returns BASE_URL, or one made from the listener's address.
func (s settings) baseURLFor(addr net.Addr) string {
	if s.BaseURL != "" {
		return s.BaseURL
	}
	host, port, _ := net.SplitHostPort(addr.String())
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// cookieSecure reports whether the session cookie gets the Secure
// attribute for the public URL base: over https always; over plain http
// only on a loopback host (127.0.0.0/8, ::1, localhost), where the
// traffic never leaves the machine. Plain http on any other host is
// refused unless INSECURE_COOKIE opts in: the session cookie would cross
// the network in clear text.
func (s settings) cookieSecure(base string) (bool, error) {
	u, err := url.Parse(base) // the scheme comes back lower-case
	switch {
	case err != nil:
		return false, errors.New("BASE_URL must be an absolute http(s) URL")
	case u.Scheme == "https":
		return true, nil
	case secureurl.IsLoopback(u.Hostname()), s.InsecureCookie:
		return false, nil
	}
	return false, fmt.Errorf("the public URL %s is plain http on a host that is not loopback: the session cookie "+
		"would travel unencrypted; serve it over https (BASE_URL=https://...), or set INSECURE_COOKIE=1 to accept that", base)
}
