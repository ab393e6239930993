package ssotest_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopsso/sso/ssotest"
)

func TestMulticartSeparateServiceClient(t *testing.T) {
	t.Parallel()
	svc := ssotest.Client{ID: "multicart-service", Secret: "service-secret"}
	s := ssotest.NewServer(ssotest.Options{MulticartService: svc})
	t.Cleanup(s.Close)
	ep := s.Multicart()
	assert.Equal(t, svc, ep.ServiceClient)
	assert.Equal(t, ssotest.DefaultMulticartClient(), ep.Client)
	tests := []struct {
		name       string
		client     ssotest.Client
		wantStatus int
	}{
		{"the service client", svc, http.StatusOK},
		{"the login client is refused", ep.Client, http.StatusUnauthorized},
		{"the service ID with the login secret", ssotest.Client{ID: svc.ID, Secret: ep.Client.Secret}, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := post(t, ep.TokenURL, url.Values{
				"grant_type": {"client_credentials"}, "client_id": {tt.client.ID},
				"client_secret": {tt.client.Secret}, "scope": {"multicart.api"},
			}, nil)
			require.Equal(t, tt.wantStatus, r.Status, r.Body)
			if tt.wantStatus == http.StatusOK {
				claims := verify(t, ep.JWKSURL, r.json(t)["access_token"].(string), ep.Issuer, "multicart.api", time.Now())
				assert.Equal(t, svc.ID, claims["sub"], "the token's subject is the service client")
				assert.Equal(t, svc.ID, claims["client_id"])
			}
		})
	}
}

func TestServiceClientDefaultsToTheLoginClient(t *testing.T) {
	t.Parallel()
	s := ssotest.NewServer(ssotest.Options{})
	t.Cleanup(s.Close)
	assert.Equal(t, s.Multicart().Client, s.Multicart().ServiceClient)
	assert.Equal(t, s.Istores().Client, s.Istores().ServiceClient)
}
