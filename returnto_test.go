package sso

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSafeReturnTo(t *testing.T) {
	tests := []struct {
		name   string
		target string
		ok     bool
	}{
		{"root", "/", true},
		{"path", "/orders/12", true},
		{"query and fragment", "/search?q=a%20b&page=2#results", true},
		{"encoded slash inside", "/files/a%2Fb", true},
		{"unicode path", "/קטלוג", true},
		{"empty", "", false},
		{"relative", "orders", false},
		{"scheme relative", "//evil.example", false},
		{"scheme relative path", "//evil.example/x", false},
		{"backslash host", "/\\evil.example", false},
		{"double backslash", "\\\\evil.example", false},
		{"backslash later", "/a\\b", false},
		{"absolute http", "http://evil.example", false},
		{"absolute https", "https://evil.example/", false},
		{"scheme without slashes", "http:evil.example", false},
		{"javascript", "javascript:alert(1)", false},
		{"data", "data:text/html,hi", false},
		{"userinfo", "//user@evil.example", false},
		{"tab", "/\t/evil.example", false},
		{"newline", "/\n/evil.example", false},
		{"carriage return", "/\r/evil.example", false},
		{"leading space", " /x", false},
		{"space inside", "/a b", false},
		{"nul", "/a\x00b", false},
		{"nbsp", "/a\u00a0b", false},
		{"encoded double slash", "/%2F%2Fevil.example", false},
		{"encoded lower", "/%2f%2fevil.example", false},
		{"encoded backslash", "/%5Cevil.example", false},
		{"encoded leading slash", "%2F%2Fevil.example", false},
		{"double encoded", "/%252F%252Fevil.example", false},
		{"triple encoded", "/%25252F%25252Fevil.example", false},
		{"encoded tab", "/%09/evil.example", false},
		{"encoded newline", "/%0A/evil.example", false},
		{"bad escape", "/%zz", false},
		{"too long", "/" + strings.Repeat("a", maxReturnTo), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.ok, safeReturnTo(tt.target), "%q", tt.target)
			want := "/"
			if tt.ok {
				want = tt.target
			}
			assert.Equal(t, want, returnTarget(tt.target))
		})
	}
}

// FuzzReturnTo checks that whatever passes safeReturnTo is a path on this
// site for a browser: it starts with one slash, has no backslash, no
// control or space characters, and decodes to no "//" or "/\" start.
func FuzzReturnTo(f *testing.F) {
	for _, s := range []string{"/", "/a?b=c#d", "//x", "/\\x", "/%2F%2Fx", "/%252F/x", "/\t/x", "http://x", "/%5c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, target string) {
		if !safeReturnTo(target) {
			if returnTarget(target) != "/" {
				t.Fatalf("unsafe %q not replaced", target)
			}
			return
		}
		if target[0] != '/' || (len(target) > 1 && (target[1] == '/' || target[1] == '\\')) {
			t.Fatalf("accepted %q", target)
		}
		for _, r := range target {
			if r <= ' ' || r == 0x7f || r == '\\' {
				t.Fatalf("accepted %q with %q", target, r)
			}
		}
		s := target
		for range 4 {
			d := strings.NewReplacer("%2f", "/", "%2F", "/", "%5c", "\\", "%5C", "\\", "%25", "%", "%09", "", "%0a", "", "%0A", "", "%0d", "", "%0D", "").Replace(s)
			if strings.HasPrefix(d, "//") || strings.HasPrefix(d, "/\\") {
				t.Fatalf("accepted %q, which decodes to %q", target, d)
			}
			s = d
		}
	})
}
