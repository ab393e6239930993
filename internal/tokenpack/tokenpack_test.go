package tokenpack

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

// jwtOf builds a three-segment token of the given header, payload and
// signature bytes.
func jwtOf(header, payload string, sig []byte) string {
	e := base64.RawURLEncoding
	return e.EncodeToString([]byte(header)) + "." + e.EncodeToString([]byte(payload)) + "." + e.EncodeToString(sig)
}

func TestPack(t *testing.T) {
	t.Parallel()
	sig := make([]byte, 256)
	for i := range sig {
		sig[i] = byte(i * 7)
	}
	jwt := jwtOf(`{"alg":"RS256","typ":"JWT"}`, `{"sub":"c-1","name":"Ann"}`, sig)
	refresh := base64.RawURLEncoding.EncodeToString(sig[:32]) // 43 characters
	tests := []struct {
		name  string
		token string
		form  byte // Raw, Base64 or JWT; ignored for ""
	}{
		{"empty", "", Raw},
		{"JWT", jwt, JWT},
		{"unsigned JWT (empty signature)", jwtOf(`{"alg":"none"}`, `{}`, nil), JWT},
		{"three empty segments", "..", JWT},
		{"random refresh token", refresh, Base64},
		{"one character", "x", Raw}, // not a whole byte
		{"padded", base64.URLEncoding.EncodeToString([]byte("ab")), Raw},
		{"padded JWT segment", jwt + "==", Raw},
		{"standard alphabet", base64.StdEncoding.EncodeToString([]byte{0xfb, 0xff, 0xfe}), Raw},
		{"stray bits in the last character", "YR", Raw}, // decodes as "a" like "YQ"
		{"line break", refresh[:20] + "\n" + refresh[20:], Raw},
		{"two segments", "YWJj.ZGVm", Raw},
		{"four segments", jwt + ".YWJj", Raw},
		{"JWT with a bad segment", strings.Replace(jwt, ".", ".*", 1), Raw},
		{"not base64 at all", "opaque token with spaces", Raw},
		{"non-ASCII", "héllo", Raw},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := Pack(tt.token)
			if err := Check(p); err != nil {
				t.Fatalf("Check(Pack(%q)) = %v", tt.token, err)
			}
			if got := Unpack(p); got != tt.token {
				t.Fatalf("Unpack(Pack(%q)) = %q", tt.token, got)
			}
			if tt.token == "" {
				if p != "" || !IsRaw(p) {
					t.Fatalf("Pack(\"\") = %q, want \"\"", p)
				}
				return
			}
			if p[0] != tt.form {
				t.Errorf("Pack(%q) is of form %d, want %d", tt.token, p[0], tt.form)
			}
			if IsRaw(p) != (tt.form == Raw) {
				t.Errorf("IsRaw = %v for form %d", IsRaw(p), p[0])
			}
			if tt.form == Raw && p[1:] != tt.token {
				t.Errorf("raw form %q does not hold the token after its form byte", p)
			}
			if tt.form != Raw && len(p) > len(tt.token)*3/4+6 {
				t.Errorf("packed %d characters into %d bytes", len(tt.token), len(p))
			}
		})
	}
	if got, want := len(Pack(jwt)), 1+1+len(`{"alg":"RS256","typ":"JWT"}`)+1+len(`{"sub":"c-1","name":"Ann"}`)+len(sig); got != want {
		t.Errorf("a packed JWT is %d bytes, want %d (form, two lengths, the decoded segments)", got, want)
	}
	if payload, ok := Payload(Pack(jwt)); !ok || payload != `{"sub":"c-1","name":"Ann"}` {
		t.Errorf("Payload = %q, %v; want the payload JSON", payload, ok)
	}
	for _, notJWT := range []string{"", Pack(refresh), Pack("x")} {
		if _, ok := Payload(notJWT); ok {
			t.Errorf("Payload(%q) found a payload", notJWT)
		}
	}
}

func TestCheckCorrupt(t *testing.T) {
	t.Parallel()
	good := Pack(jwtOf(`{"alg":"RS256"}`, `{"sub":"c-1"}`, []byte{1, 2, 3}))
	tests := []struct {
		name   string
		packed string
	}{
		{"unknown form", "\x03abc"},
		{"JWT form alone", "\x02"},
		{"header length past the end", "\x02\x7f{}"},
		{"payload length past the end", "\x02\x00\x05{}"},
		{"truncated", good[:10]},
		{"varint overflow", "\x02" + strings.Repeat("\xff", 10) + "\x01"},
		{"unterminated varint", "\x02\x80"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if err := Check(tt.packed); !errors.Is(err, ErrCorrupt) {
				t.Errorf("Check(%q) = %v, want ErrCorrupt", tt.packed, err)
			}
			if got := Unpack(tt.packed); got != "" {
				t.Errorf("Unpack(%q) = %q, want \"\"", tt.packed, got)
			}
			if _, ok := Payload(tt.packed); ok {
				t.Errorf("Payload(%q) found a payload", tt.packed)
			}
		})
	}
}

// FuzzPack checks that every token comes back exactly from its packing.
func FuzzPack(f *testing.F) {
	for _, seed := range []string{"", "x", "YQ", "YR", "YQ==", "a.b.c", "..", "YWJj.ZGVm.Z2hp", "YWJj.ZGVm", "a\nb", "é"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, token string) {
		p := Pack(token)
		if err := Check(p); err != nil {
			t.Fatalf("Check(Pack(%q)) = %v", token, err)
		}
		if got := Unpack(p); got != token {
			t.Fatalf("Unpack(Pack(%q)) = %q", token, got)
		}
	})
}

// FuzzUnpack checks that any string passed to Check, Unpack and Payload
// is answered without a panic, and that what Check accepts unpacks to a
// token that packs and unpacks to itself.
func FuzzUnpack(f *testing.F) {
	for _, seed := range []string{"", "\x00x", "\x01ab", "\x02\x01{\x01}s", "\x02\x80", "\x03", Pack("YWJj.ZGVm.Z2hp")} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, packed string) {
		_, _ = Payload(packed)
		token := Unpack(packed)
		if Check(packed) != nil {
			return
		}
		if again := Unpack(Pack(token)); again != token {
			t.Fatalf("token %q unpacked from %q packs and unpacks to %q", token, packed, again)
		}
	})
}
