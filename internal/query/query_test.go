package query

import (
	"net/url"
	"testing"
)

func TestAdd(t *testing.T) {
	tests := []struct {
		name, base, want string
	}{
		{"plain", "https://id.example/", "https://id.example/?a=1&s=x%20y"},
		{"keeps a valueless parameter", "https://id.example/authorize?tenant", "https://id.example/authorize?tenant&a=1&s=x%20y"},
		{"keeps its own encoding", "https://id.example/a?t=a+b", "https://id.example/a?t=a+b&a=1&s=x%20y"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Add(tt.base, url.Values{"s": {"x y"}, "a": {"1"}}); got != tt.want {
				t.Errorf("Add(%q) = %q, want %q", tt.base, got, tt.want)
			}
		})
	}
}
