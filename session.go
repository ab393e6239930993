package sso

import (
	"encoding/gob"
	"time"

	"github.com/shopsso/sso/internal/tokenpack"
)

// Session keys. They are namespaced so they do not collide with an
// application's own keys in the same scs session.
const (
	loginKey   = "shopsso.login"
	pendingKey = "shopsso.pending"
)

// login is what a completed login keeps in the session: the provider's token
// set, server side only. The cookie holds nothing but scs's session ID.
//
// It is kept in the session as a string of its own encoding (see
// login_record.go). Fields are exported for encoding/gob, which is how
// sessions written by scs.GobCodec before that kept it; the type is not part
// of the API.
//
// Read the refresh token and the ID token with l.refreshToken() and
// l.idToken(), not through the fields: a login read from its record holds
// them packed (internal/tokenpack) until they are asked for.
type login struct {
	Provider     string
	AccessToken  string
	TokenType    string
	RefreshToken string    // "" when held in refreshPacked; see refreshToken
	IDToken      string    // "" when held in idPacked; see idToken
	Expiry       time.Time // zero when the provider gave no expires_in
	Obtained     time.Time // when this token set was received
	Scopes       []string  // granted scopes

	// The claims of the access token and of the ID token, decoded when
	// the tokens were received (not kept by gob, which only saw older
	// sessions).
	access, id claimSet

	// The refresh token and the ID token as the login's record keeps
	// them, when packed: a substring of the record, so that reading a
	// login does not rebuild tokens it rarely needs. "" when the token is
	// in RefreshToken or IDToken instead.
	refreshPacked, idPacked string
}

// refreshToken returns the refresh token, "" for none.
func (l *login) refreshToken() string {
	if l.refreshPacked != "" {
		return tokenpack.Unpack(l.refreshPacked)
	}
	return l.RefreshToken
}

// idTokenForClaims returns the ID token as it is held, raw or packed, for
// its [Claims] to read the payload from when asked, without unpacking it
// now.
func (l *login) idTokenForClaims() (token string, packed bool) {
	if l.idPacked != "" {
		return l.idPacked, true
	}
	return l.IDToken, false
}

// idToken returns the raw ID token, "" for none. It builds the text of a
// packed one anew on each call: not for the path of every request (the
// claims of the ID token are in l.id).
func (l *login) idToken() string {
	if l.idPacked != "" {
		return tokenpack.Unpack(l.idPacked)
	}
	return l.IDToken
}

func init() {
	// Names are fixed so that sessions written by one version (or instance)
	// stay readable by another when gob is the codec. A login is no longer
	// stored as a struct; the name stays so older gob sessions still read.
	gob.RegisterName("shopsso.login", login{})
}
