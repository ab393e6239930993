package sso

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/gob"
	"fmt"
	"time"

	"github.com/shopsso/sso/internal/record"
)

// pending is one login that has been started but not yet completed. At most
// [Config.MaxPending] of them live in a session, so several tabs can log in
// at once.
//
// It is small on purpose: every anonymous visitor sent to a provider holds
// one in the store until it is used or its session expires. The state, the
// PKCE verifier and the nonce are not stored but derived from one random
// seed (see [pending.state]).
type pending struct {
	Provider string
	Seed     string // seedLen bytes from crypto/rand
	ReturnTo string // relative path checked by [safeReturnTo]
	Created  time.Time
}

// seedLen is the size of a pending login's secret: 256 bits, as much as
// each of the values derived from it carries.
const seedLen = 32

// newPending starts a pending login with a fresh seed.
func newPending(provider, returnTo string, now time.Time) pending {
	var seed [seedLen]byte
	_, _ = rand.Read(seed[:]) // crypto/rand.Read never fails (Go 1.24+)
	return pending{Provider: provider, Seed: string(seed[:]), ReturnTo: returnTo, Created: now}
}

// randomString returns 32 bytes from crypto/rand, base64url-encoded
// (RFC 6749 §10.10 asks for values that cannot be guessed).
func randomString() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// derive returns SHA-256(label, 0, seed), base64url-encoded: 43 characters,
// unguessable without the seed (RFC 6749 §10.10), and unrelated to the
// values derived under other labels — knowing the state, which travels in
// URLs, tells nothing about the verifier or the nonce.
func (pd *pending) derive(label string) string {
	h := sha256.New()
	h.Write([]byte(label))
	h.Write([]byte{0})
	h.Write([]byte(pd.Seed))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// state is the login's OAuth state parameter (RFC 6749 §4.1.1).
func (pd *pending) state() string { return pd.derive("shopsso state") }

// verifier is the login's PKCE code verifier (RFC 7636 §4.1: 43 characters
// of the unreserved set, 256 bits of entropy).
func (pd *pending) verifier() string { return pd.derive("shopsso pkce verifier") }

// nonce is the login's OpenID Connect nonce (OIDC Core §3.1.2.1).
func (pd *pending) nonce() string { return pd.derive("shopsso nonce") }

// The pending logins are kept in the session as one string, their record,
// which this file alone writes and reads (the session codec knows nothing of
// it). A record starts with its version; a new field means a new version,
// and every version ever written stays readable.
const (
	// pendingV1: count, then for each: provider, seed, return target,
	// created.
	pendingV1 = 1
)

// pendingRecord encodes list as the value kept under pendingKey.
func pendingRecord(list []pending) string {
	size := 2
	for i := range list {
		size += 4 + len(list[i].Provider) + len(list[i].Seed) + len(list[i].ReturnTo) + 16
	}
	w := record.NewWriter(pendingV1, size)
	w.Uint(uint64(len(list)))
	for i := range list {
		w.String(list[i].Provider)
		w.String(list[i].Seed)
		w.String(list[i].ReturnTo)
		w.Time(list[i].Created)
	}
	return w.Done()
}

// parsePending decodes a record written by [pendingRecord].
func parsePending(s string) ([]pending, error) {
	r, version := record.NewReader(s)
	if version != pendingV1 {
		return nil, fmt.Errorf("sso: pending record of unknown version %d", version)
	}
	n := r.Uint()
	if n > uint64(len(s)) { // each entry takes several bytes: a corrupt count
		return nil, fmt.Errorf("sso: pending record: %w", record.ErrCorrupt)
	}
	list := make([]pending, 0, n)
	for range n {
		pd := pending{Provider: r.Text(), Seed: r.Text(), ReturnTo: r.Text(), Created: r.Time()}
		if len(pd.Seed) != seedLen {
			return nil, fmt.Errorf("sso: pending record: %w: seed of %d bytes", record.ErrCorrupt, len(pd.Seed))
		}
		list = append(list, pd)
	}
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("sso: pending record: %w", err)
	}
	return list, nil
}

// pendingLogins returns the pending logins of the session in ctx, a list of
// its own. Anything under the key that is not a readable record (a corrupt
// value, or pending logins stored by a release before records) counts as
// none: those logins must be started again.
func (a *Auth) pendingLogins(ctx context.Context) []pending {
	s, ok := a.cfg.Sessions.Get(ctx, pendingKey).(string)
	if !ok {
		return nil
	}
	list, err := parsePending(s)
	if err != nil {
		return nil
	}
	return list
}

// putPending replaces the pending logins of the session in ctx.
func (a *Auth) putPending(ctx context.Context, list []pending) {
	if len(list) == 0 {
		a.cfg.Sessions.Remove(ctx, pendingKey)
		return
	}
	a.cfg.Sessions.Put(ctx, pendingKey, pendingRecord(list))
}

// holdsOnlyPending reports whether the session in ctx holds nothing but
// pending logins: a session of an anonymous visitor that exists only
// because a login was started.
func (a *Auth) holdsOnlyPending(ctx context.Context) bool {
	for _, k := range a.cfg.Sessions.Keys(ctx) {
		if k != pendingKey {
			return false
		}
	}
	return true
}

// legacyPending is how a pending login was kept before records. It is
// registered with gob under its old name only so that sessions written by
// scs.GobCodec then still decode; its values are ignored.
type legacyPending struct {
	Provider, State, Verifier, Nonce, ReturnTo string
	Created                                    time.Time
}

func init() {
	gob.RegisterName("shopsso.pending", []legacyPending{})
}
