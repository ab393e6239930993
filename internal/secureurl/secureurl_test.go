package secureurl

import "testing"

func TestCheck(t *testing.T) {
	tests := []struct {
		name     string
		url      string
		insecure bool
		ok       bool
	}{
		{"https", "https://id.example/x", false, true},
		{"http on 127.0.0.1", "http://127.0.0.1:8080/x", false, true},
		{"http on 127.1.2.3", "http://127.1.2.3/x", false, true},
		{"http on ::1", "http://[::1]:80/x", false, true},
		{"http on localhost", "http://LocalHost:1/x", false, true},
		{"http off loopback", "http://id.example/x", false, false},
		{"http on a name ending in localhost", "http://evil-localhost.example/x", false, false},
		{"http off loopback, opted in", "http://id.example/x", true, true},
		{"relative", "/x", false, false},
		{"another scheme", "ftp://id.example/x", true, false},
		{"no host", "https:///x", false, false},
		{"empty", "", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := Check(tt.url, tt.insecure); (err == nil) != tt.ok {
				t.Errorf("Check(%q, %v) = %v, want ok=%v", tt.url, tt.insecure, err, tt.ok)
			}
		})
	}
}
