package sso

import (
	"encoding/gob"
	"time"
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
type login struct {
	Provider     string
	AccessToken  string
	TokenType    string
	RefreshToken string
	IDToken      string
	Expiry       time.Time // zero when the provider gave no expires_in
	Obtained     time.Time // when this token set was received
	Scopes       []string  // granted scopes

	// The claims of the access token and of the ID token, decoded when
	// the tokens were received (not kept by gob, which only saw older
	// sessions).
	access, id claimSet
}

func init() {
	// Names are fixed so that sessions written by one version (or instance)
	// stay readable by another when gob is the codec. A login is no longer
	// stored as a struct; the name stays so older gob sessions still read.
	gob.RegisterName("shopsso.login", login{})
}
