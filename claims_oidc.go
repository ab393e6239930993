package sso

import "time"

// The OpenID Connect standard claims (OIDC Core §5.1) beyond the ones kept
// with the login ([Claims.Subject], [Claims.Name], [Claims.Email],
// [Claims.EmailVerified]). They are read through [Claims.Value], so they
// cost one decoding of the token's payload per Claims value, on first use;
// a claim that is absent or of the wrong JSON type reads as the zero value.
// For claims of the provider's own, decode them into a struct of yours
// with [Claims.Decode].

// GivenName returns the "given_name" claim, or "".
func (c *Claims) GivenName() string { return c.stringClaim("given_name") }

// FamilyName returns the "family_name" claim, or "".
func (c *Claims) FamilyName() string { return c.stringClaim("family_name") }

// PreferredUsername returns the "preferred_username" claim, or "". It is
// not unique and may change; identify customers by [Claims.Subject].
func (c *Claims) PreferredUsername() string { return c.stringClaim("preferred_username") }

// Picture returns the "picture" claim, the URL of the customer's picture,
// or "". It is the provider's URL: check its scheme before putting it on a
// page.
func (c *Claims) Picture() string { return c.stringClaim("picture") }

// Locale returns the "locale" claim, a BCP 47 language tag such as "en-US"
// (some providers write "en_US"), or "".
func (c *Claims) Locale() string { return c.stringClaim("locale") }

// PhoneNumber returns the "phone_number" claim, or "". OIDC recommends
// E.164 ("+1 (425) 555-1212" is allowed too).
func (c *Claims) PhoneNumber() string { return c.stringClaim("phone_number") }

// PhoneNumberVerified reports the "phone_number_verified" claim: false when
// it is false or absent.
func (c *Claims) PhoneNumberVerified() bool { return c.boolClaim("phone_number_verified") }

// UpdatedAt returns the "updated_at" claim, when the customer's information
// last changed, or the zero time.
func (c *Claims) UpdatedAt() time.Time {
	if v, ok := c.Value("updated_at"); ok {
		if n, ok := v.(float64); ok && n > 0 {
			return time.Unix(int64(n), 0)
		}
	}
	return time.Time{}
}

// stringClaim returns the named claim if it is a JSON string.
func (c *Claims) stringClaim(name string) string {
	v, _ := c.Value(name)
	s, _ := v.(string)
	return s
}

// boolClaim returns the named claim if it is true, or the string "true"
// that some providers send.
func (c *Claims) boolClaim(name string) bool {
	v, _ := c.Value(name)
	switch v := v.(type) {
	case bool:
		return v
	case string:
		return v == "true"
	}
	return false
}
