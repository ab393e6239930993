package sessioncodec

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/alexedwards/scs/v2"
)

func codecTestKey(t testing.TB) []byte {
	t.Helper()
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func codecTestNew(t testing.TB, keys ...[]byte) Codec {
	t.Helper()
	c, err := New(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNewRefusesBadKeys(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		keys [][]byte
	}{
		{"no keys", nil},
		{"short key", [][]byte{make([]byte, 16)}},
		{"long second key", [][]byte{make([]byte, KeySize), make([]byte, KeySize+1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if c, err := New(tt.keys...); err == nil {
				t.Errorf("New = %v, want an error", c)
			}
		})
	}
}

func TestSealedRoundTrip(t *testing.T) {
	t.Parallel()
	old, cur := codecTestKey(t), codecTestKey(t)
	secret := codecTestToken('s', 900)
	values := map[string]any{"login": secret, "n": 3, "user": codecTestUser{ID: 1, Name: "Ann"}}
	sealedOld, err := codecTestNew(t, old).Encode(codecTestDeadline, values)
	if err != nil {
		t.Fatal(err)
	}
	sealedCur, err := codecTestNew(t, cur, old).Encode(codecTestDeadline, values)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := Codec{}.Encode(codecTestDeadline, values)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range [][]byte{sealedOld, sealedCur} {
		if bytes.Contains(b, []byte(secret[:16])) || bytes.Contains(b, []byte("Ann")) {
			t.Fatal("sealed data contains the plain text")
		}
		if len(b) != len(plain)+sealOverhead {
			t.Errorf("sealed length %d, want %d", len(b), len(plain)+sealOverhead)
		}
	}

	tests := []struct {
		name    string
		codec   Codec
		data    []byte
		rewrite bool  // RewriteKey expected
		err     error // expected error, nil for success
	}{
		{"current key", codecTestNew(t, cur, old), sealedCur, false, nil},
		{"rotated key still opens", codecTestNew(t, cur, old), sealedOld, true, nil},
		{"unsealed from before", codecTestNew(t, cur), plain, true, nil},
		{"dropped key", codecTestNew(t, cur), sealedOld, false, ErrUnsealed},
		{"no keys", Codec{}, sealedCur, false, ErrUnsealed},
		{"tampered", codecTestNew(t, cur), flipLastBit(sealedCur), false, ErrUnsealed},
		{"tampered header", codecTestNew(t, cur), flipBit(sealedCur, 5), false, ErrUnsealed},
		{"truncated", codecTestNew(t, cur), sealedCur[:sealOverhead-1], false, errCodecCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			deadline, got, err := tt.codec.Decode(tt.data)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("Decode = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !deadline.Equal(codecTestDeadline) {
				t.Errorf("deadline = %v", deadline)
			}
			if (got[RewriteKey] == true) != tt.rewrite {
				t.Errorf("values[RewriteKey] = %v, want %v", got[RewriteKey], tt.rewrite)
			}
			delete(got, RewriteKey)
			codecSameValues(t, values, got)
		})
	}
}

func TestSealedNoncesDiffer(t *testing.T) {
	t.Parallel()
	c := codecTestNew(t, codecTestKey(t))
	a, err := c.Encode(codecTestDeadline, map[string]any{"k": "v"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Encode(codecTestDeadline, map[string]any{"k": "v"})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a, b) {
		t.Error("two encodings of the same session are equal: the nonce repeats")
	}
}

func flipLastBit(b []byte) []byte { return flipBit(b, len(b)-1) }

func flipBit(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 1
	return c
}

// TestSealedOnlyRefusesForgedSessions: someone who can write to the store
// but has no key can write a plain or gob session of their own. New's codec
// reads it (that is how sessions migrate to sealing); SealedOnly's does not.
func TestSealedOnlyRefusesForgedSessions(t *testing.T) {
	t.Parallel()
	key := codecTestKey(t)
	values := map[string]any{"login": "forged"}
	plain, err := Codec{}.Encode(codecTestDeadline, values)
	if err != nil {
		t.Fatal(err)
	}
	gobData, err := scs.GobCodec{}.Encode(codecTestDeadline, values)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := codecTestNew(t, key).Encode(codecTestDeadline, values)
	if err != nil {
		t.Fatal(err)
	}
	migrating := codecTestNew(t, key)
	strict := migrating.SealedOnly()
	if !strict.Sealed() {
		t.Fatal("SealedOnly codec does not seal")
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"plain", plain},
		{"gob", gobData},
		{"empty", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.data != nil {
				if _, got, err := migrating.Decode(tt.data); err != nil || got["login"] != "forged" {
					t.Fatalf("migrating codec: Decode = %v, %v; the test needs data it reads", got, err)
				}
			}
			if _, got, err := strict.Decode(tt.data); !errors.Is(err, ErrUnsealed) {
				t.Errorf("SealedOnly: Decode = %v, %v; want ErrUnsealed", got, err)
			}
		})
	}
	if _, got, err := strict.Decode(sealed); err != nil || got["login"] != "forged" {
		t.Errorf("SealedOnly: Decode(sealed) = %v, %v", got, err)
	}
	if (Codec{}).SealedOnly().Sealed() {
		t.Error("the zero codec has no keys to seal with")
	}
}
