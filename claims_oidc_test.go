package sso_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	sso "github.com/shopsso/sso"
	"github.com/shopsso/sso/ssotest"
)

func TestStandardClaims(t *testing.T) {
	t.Parallel()
	stand := ssotest.NewServer(ssotest.Options{})
	t.Cleanup(stand.Close)
	tests := []struct {
		name   string
		claims map[string]any
		check  func(t *testing.T, c *sso.Claims)
	}{
		{"all present", map[string]any{
			"given_name": "Ada", "family_name": "Lovelace", "preferred_username": "ada",
			"picture": "https://img.example/ada.png", "locale": "en-GB", "phone_number": "+44 20 7946 0000",
			"phone_number_verified": true, "updated_at": 1700000000,
		}, func(t *testing.T, c *sso.Claims) {
			assert.Equal(t, "Ada", c.GivenName())
			assert.Equal(t, "Lovelace", c.FamilyName())
			assert.Equal(t, "ada", c.PreferredUsername())
			assert.Equal(t, "https://img.example/ada.png", c.Picture())
			assert.Equal(t, "en-GB", c.Locale())
			assert.Equal(t, "+44 20 7946 0000", c.PhoneNumber())
			assert.True(t, c.PhoneNumberVerified())
			assert.Equal(t, time.Unix(1700000000, 0), c.UpdatedAt())
			assert.Equal(t, "Test Customer", c.Name(), "the stand-in's default name")
		}},
		{"absent", map[string]any{"name": nil, "email": nil}, func(t *testing.T, c *sso.Claims) {
			for _, s := range []string{c.GivenName(), c.FamilyName(), c.PreferredUsername(), c.Picture(), c.Locale(), c.PhoneNumber(), c.Name()} {
				assert.Empty(t, s)
			}
			assert.False(t, c.PhoneNumberVerified())
			assert.True(t, c.UpdatedAt().IsZero())
		}},
		{"wrong JSON types read as zero", map[string]any{
			"given_name": 7, "locale": []string{"en"}, "phone_number_verified": "yes", "updated_at": "yesterday",
		}, func(t *testing.T, c *sso.Claims) {
			assert.Empty(t, c.GivenName())
			assert.Empty(t, c.Locale())
			assert.False(t, c.PhoneNumberVerified())
			assert.True(t, c.UpdatedAt().IsZero())
		}},
		{"verified as a string", map[string]any{"phone_number_verified": "true"}, func(t *testing.T, c *sso.Claims) {
			assert.True(t, c.PhoneNumberVerified())
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := sso.ParseClaims(stand.IssueIDToken(tt.claims))
			require.NoError(t, err)
			tt.check(t, c)
		})
	}
}

func TestClaimsDecodeIntoOwnStruct(t *testing.T) {
	t.Parallel()
	stand := ssotest.NewServer(ssotest.Options{})
	t.Cleanup(stand.Close)
	c, err := sso.ParseClaims(stand.IssueIDToken(map[string]any{
		"given_name": "Ada", "tier": "gold", "groups": []string{"buyers", "vip"},
	}))
	require.NoError(t, err)
	var own struct {
		Subject   string   `json:"sub"`
		GivenName string   `json:"given_name"`
		Tier      string   `json:"tier"`
		Groups    []string `json:"groups"`
	}
	require.NoError(t, c.Decode(&own))
	assert.Equal(t, "customer-1", own.Subject)
	assert.Equal(t, "Ada", own.GivenName)
	assert.Equal(t, "gold", own.Tier)
	assert.Equal(t, []string{"buyers", "vip"}, own.Groups)

	var wrong struct {
		Tier int `json:"tier"`
	}
	assert.Error(t, c.Decode(&wrong), "a type mismatch is reported, not swallowed")
}
