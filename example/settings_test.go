package main

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSettingsMulticartAuthParams(t *testing.T) {
	tests := []struct {
		name    string
		value   string
		want    url.Values
		wantErr bool
	}{
		{name: "unset", value: "", want: nil},
		{name: "prompt", value: "prompt=consent", want: url.Values{"prompt": {"consent"}}},
		{name: "several", value: "prompt=consent&ui_locales=he%20en", want: url.Values{"prompt": {"consent"}, "ui_locales": {"he en"}}},
		{name: "not a query", value: "prompt=%zz", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := settingsFromEnv(func(k string) string {
				if k == "MULTICART_AUTH_PARAMS" {
					return tc.value
				}
				return ""
			})
			if tc.wantErr {
				require.Error(t, err)
				assert.Contains(t, err.Error(), "MULTICART_AUTH_PARAMS")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, s.MulticartAuthParams)
		})
	}
}
