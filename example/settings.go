package main

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

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
	if s.BaseURL != "" {
		u, err := url.Parse(s.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return s, errors.New("BASE_URL must be an absolute http(s) URL")
		}
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

// secure reports whether cookies get the Secure attribute: exactly when
// the public URL is https.
func secure(baseURL string) bool {
	u, err := url.Parse(baseURL) // the scheme comes back lower-case
	return err == nil && u.Scheme == "https"
}
