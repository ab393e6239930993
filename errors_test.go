package sso_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"

	sso "github.com/shopsso/sso"
)

func TestStatusCode(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{sso.ErrStateMissing, http.StatusBadRequest},
		{sso.ErrStateMismatch, http.StatusBadRequest},
		{sso.ErrStateExpired, http.StatusBadRequest},
		{sso.ErrCodeMissing, http.StatusBadRequest},
		{sso.ErrIDToken, http.StatusBadRequest},
		{sso.ErrExchange, http.StatusBadRequest},
		{&sso.ProviderError{Code: "access_denied"}, http.StatusForbidden},
		{sso.ErrLoginRejected, http.StatusForbidden},
		{sso.ErrInsufficientScope, http.StatusForbidden},
		{sso.ErrCrossSite, http.StatusForbidden},
		{sso.ErrLoginRequired, http.StatusUnauthorized},
		{sso.ErrRefresh, http.StatusUnauthorized},
		{sso.ErrMethod, http.StatusMethodNotAllowed},
		{sso.ErrProviderUnavailable, http.StatusBadGateway},
		{sso.ErrResponseTooLarge, http.StatusBadRequest},
		{sso.ErrSession, http.StatusInternalServerError},
	}
	for _, tt := range tests {
		t.Run(tt.err.Error(), func(t *testing.T) {
			assert.Equal(t, tt.want, sso.StatusCode(tt.err))
			assert.Equal(t, tt.want, sso.StatusCode(errors.Join(errors.New("context"), tt.err)), "found when wrapped")
		})
	}
}

func TestProviderErrorPrintsOnlyAWellFormedCode(t *testing.T) {
	pe := &sso.ProviderError{Provider: "multicart", Code: "invalid_grant", Description: "refresh token abc123 expired"}
	assert.Equal(t, "sso: multicart answered invalid_grant", pe.Error())
	pe.Code = "Evil <b>text</b>"
	assert.NotContains(t, pe.Error(), "Evil")
}

func TestContextHelpersOutsideRequire(t *testing.T) {
	ctx := context.Background()
	_, ok := sso.TokenFromContext(ctx)
	assert.False(t, ok)
	_, ok = sso.ClaimsFromContext(ctx)
	assert.False(t, ok)
	_, ok = sso.IDClaimsFromContext(ctx)
	assert.False(t, ok)
	_, ok = sso.ProviderFromContext(ctx)
	assert.False(t, ok)
}

func TestTokenNeverPrintsItsSecret(t *testing.T) {
	tok := sso.Token{Provider: "istores", AccessToken: "secret-access-token", TokenType: "Bearer", Scopes: []string{"products:read"}}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("login", "token", tok)
	assert.NotContains(t, buf.String(), "secret-access-token")
	assert.Contains(t, buf.String(), "istores")
	for _, s := range []string{tok.String(), tok.GoString()} {
		assert.NotContains(t, s, "secret-access-token")
	}
	assert.True(t, tok.HasScope("products:read"))
	assert.False(t, tok.HasScope("products:delete"))
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	tok.SetAuthHeader(r)
	assert.Equal(t, "Bearer secret-access-token", r.Header.Get("Authorization"))
}
