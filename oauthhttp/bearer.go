package oauthhttp

import (
	"errors"
	"net/http"

	"golang.org/x/oauth2"
)

// BearerClient returns an [http.Client] that sends src's token in an
// "Authorization: Bearer" header (RFC 6750 §2.1) on every request. It
// follows redirects only within the origin (scheme and host) of the first
// request: a redirect elsewhere is returned to the caller unfollowed, so
// the token never reaches another host.
func BearerClient(src oauth2.TokenSource) *http.Client {
	return &http.Client{Transport: &oauth2.Transport{Source: src}, CheckRedirect: sameOriginRedirect}
}

func sameOriginRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("sso: stopped after 10 redirects")
	}
	if req.URL.Scheme != via[0].URL.Scheme || req.URL.Host != via[0].URL.Host {
		return http.ErrUseLastResponse
	}
	return nil
}
