package sso

import (
	"context"
	"net/http"

	"golang.org/x/oauth2"

	"github.com/shopsso/sso/oauthhttp"
)

// Client returns an [http.Client] that calls a store's API as the customer
// of ctx, the context of a request inside LoadAndSave: every request it
// sends carries "Authorization: Bearer <access token>", which stays on its
// origin ([oauthhttp.BearerClient]), with the token refreshed (and the
// session updated) first when it is about to expire.
// Requests fail with an error wrapping [ErrLoginRequired] when the session
// has no usable login.
//
// Use it within the request it was made for; the session changes it makes
// are saved when that request's response is written.
func (a *Auth) Client(ctx context.Context) *http.Client {
	return oauthhttp.BearerClient(customerSource{a: a, ctx: ctx})
}

// customerSource reads the customer's current token from the session.
type customerSource struct {
	a   *Auth
	ctx context.Context
}

func (s customerSource) Token() (*oauth2.Token, error) {
	var l login
	if _, err := s.a.safeCurrentLogin(s.ctx, &l); err != nil {
		return nil, err
	}
	return &oauth2.Token{AccessToken: l.AccessToken, TokenType: l.TokenType, Expiry: l.Expiry}, nil
}
