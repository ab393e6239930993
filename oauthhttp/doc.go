// Package oauthhttp holds the HTTP plumbing of OAuth 2.0 clients that is
// not single sign-on itself: an [http.Client] fit for a token endpoint
// ([TokenClient]), one that sends a bearer token and keeps it on its origin
// ([BearerClient]), and a shared, cached token source for the
// client-credentials grant ([CachedTokenSource]). The providers of
// github.com/shopsso/sso use it; providers written by others may too.
package oauthhttp
