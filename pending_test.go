package sso

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
)

func TestPendingRecordRoundTrip(t *testing.T) {
	now := time.Unix(1_700_000_000, 123).UTC()
	tests := []struct {
		name string
		list []pending
	}{
		{"one", []pending{newPending("istores", "/cart?x=1", now)}},
		{"five tabs", []pending{
			newPending("istores", "/a", now), newPending("multicart", "/b", now.Add(time.Second)),
			newPending("istores", "/", now), newPending("multicart", "/d", now), newPending("istores", "/e", now),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := pendingRecord(tt.list)
			got, err := parsePending(rec)
			require.NoError(t, err)
			assert.Equal(t, tt.list, got)
			assert.Less(t, len(rec), 2+len(tt.list)*(1+9+1+seedLen+1+9+10), "small: no derived value is stored")
		})
	}
}

func TestPendingRecordCorrupt(t *testing.T) {
	good := pendingRecord([]pending{newPending("istores", "/", time.Now())})
	tests := []struct {
		name string
		rec  string
	}{
		{"empty", ""},
		{"unknown version", "\x02" + good[1:]},
		{"truncated", good[:len(good)-3]},
		{"trailing bytes", good + "x"},
		{"huge count", "\x01\xff\xff\xff\xff\x0f"},
		{"short seed", pendingRecord([]pending{{Provider: "istores", Seed: "short", ReturnTo: "/"}})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parsePending(tt.rec)
			assert.Error(t, err)
		})
	}
}

// TestPendingDerivedValues: state, verifier and nonce come from the seed
// alone, differ from each other and between logins, and the verifier is a
// valid PKCE verifier (RFC 7636 §4.1).
func TestPendingDerivedValues(t *testing.T) {
	now := time.Now()
	a, b := newPending("istores", "/", now), newPending("istores", "/", now)
	seen := map[string]bool{}
	for _, pd := range []pending{a, b} {
		for _, v := range []string{pd.state(), pd.verifier(), pd.nonce()} {
			assert.Len(t, v, 43)
			assert.False(t, seen[v], "every derived value is distinct")
			seen[v] = true
		}
		assert.Empty(t, strings.Trim(pd.verifier(), "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"))
	}
	copyOfA := a
	assert.Equal(t, a.state(), copyOfA.state(), "deterministic from the seed")
	assert.NotEqual(t, oauth2.S256ChallengeFromVerifier(a.verifier()), a.state(), "the challenge is not the state")
}
