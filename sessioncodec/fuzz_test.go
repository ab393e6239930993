package sessioncodec

import (
	"errors"
	"testing"
	"time"
)

// FuzzCodecDecode checks that decoding never panics, and that whatever
// decodes encodes and decodes again to the same session.
//
// Gob data is left out, both sessions written by scs.GobCodec and values on
// the gob path inside the format: encoding/gob trusts the sizes it reads, and
// a few corrupt bytes can make it allocate gigabytes (golang/go#79539).
func FuzzCodecDecode(f *testing.F) {
	native := codecTestSession()
	delete(native, "user") // the gob path
	delete(native, "myString")
	delete(native, "ints")
	seeds := []map[string]any{
		{},
		native,
		codecTestSession(),
		codecBenchSession(),
		{"k": codecTestUser{ID: 1, Name: "Ann"}},
		{"k": []string{"a", "b"}, "m": map[string]string{"a": "b"}},
		{"t": time.Date(2024, 1, 1, 0, 0, 0, 0, codecTestWest)},
	}
	for _, values := range seeds {
		b, err := Codec{}.Encode(codecTestDeadline, values)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{codecMagic})
	f.Add([]byte{codecMagic, codecVersion + 1})

	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 || data[0] != codecMagic {
			return // for scs.GobCodec
		}
		deadline, values, legacy, err := decodeSession(data, codecRefuseGob)
		if err != nil || legacy {
			return // version 1's login comes back as a []any, for its owner to convert
		}
		if values == nil {
			t.Fatal("Decode returned a nil map without an error")
		}
		b, err := Codec{}.Encode(deadline, values)
		if err != nil {
			t.Fatalf("re-encoding %#v: %v", values, err)
		}
		deadline2, values2, err := Codec{}.Decode(b)
		if err != nil {
			t.Fatalf("decoding the re-encoding of %#v: %v", values, err)
		}
		if !codecSameValue(deadline, deadline2) {
			t.Errorf("deadline = %v, then %v", deadline, deadline2)
		}
		codecSameValues(t, values, values2)
	})
}

// codecRefuseGob stands in for decodeGob in FuzzCodecDecode. Gob payloads are
// covered by TestCodecRoundTrip and TestCodecCorrupt instead.
func codecRefuseGob([]byte) (any, error) {
	return nil, errors.New("gob refused while fuzzing")
}
