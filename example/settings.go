package main

import (
	"errors"
	"net"
	"net/url"
	"strings"
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

	RedisURL string
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
		RedisURL:                     getenv("REDIS_URL"),
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
