package sessioncodec

import (
	"encoding/hex"
	"testing"
	"time"
)

// codecTestV1 is a session written by github.com/shopsso/sso's Codec before
// this package existed: a login, one pending login and "app.count" = 7.
const codecTestV1 = "c50180b494ab0d01030f73686f7073736f2e70656e64696e671602076973746f7265730773746174652d310a76657269666965722d3100052f63617274e0b589ab0d01096170702e636f756e74060e0d73686f7073736f2e6c6f67696e15096d756c746963617274126865616465722e7061796c6f61642e7369670642656172657209726566726573682d310c69642e746f6b656e2e73696780ee89ab0d01e0b589ab0d0103066f70656e696405656d61696c"

func TestCodecReadsVersion1Records(t *testing.T) {
	t.Parallel()
	data, err := hex.DecodeString(codecTestV1)
	if err != nil {
		t.Fatal(err)
	}
	deadline, values, err := Codec{}.Decode(data)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if want := time.Unix(1790086400, 0); !deadline.Equal(want) {
		t.Errorf("deadline = %v, want %v", deadline, want)
	}
	want := map[string]any{
		"shopsso.login": []any{"multicart", "header.payload.sig", "Bearer", "refresh-1", "id.token.sig",
			time.Unix(1790000000, 0).UTC(), time.Unix(1789996400, 0).UTC(), []string{"openid", "email"}},
		"app.count": 7,
		RewriteKey:  true,
	}
	codecSameValues(t, want, values) // the pending logins are dropped
}

func TestCodecEncodeLeavesRewriteKeyOut(t *testing.T) {
	t.Parallel()
	b, err := Codec{}.Encode(codecTestDeadline, map[string]any{"a": 1, RewriteKey: true})
	if err != nil {
		t.Fatal(err)
	}
	_, values, err := Codec{}.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	codecSameValues(t, map[string]any{"a": 1}, values)
}
