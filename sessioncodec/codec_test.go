package sessioncodec

import (
	"encoding/gob"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
)

// Types an application might keep in a session, registered as it would
// register them for scs.GobCodec.
type (
	codecTestUser struct {
		ID    int
		Name  string
		Roles []string
	}
	codecTestString string
	codecTestRef    struct{ N int } // registered as a pointer
)

func init() {
	gob.Register(codecTestUser{})
	gob.Register(&codecTestRef{})
	gob.Register(codecTestString(""))
	gob.Register(map[string]int{})
}

var (
	codecTestDeadline = time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC)
	codecTestZone     = time.FixedZone("IST", 5*3600+30*60)
	codecTestWest     = time.FixedZone("", -(3*3600 + 17)) // odd seconds: an LMT-style offset
)

// codecTestToken is a JWT-sized string.
func codecTestToken(c byte, n int) string { return "ey" + strings.Repeat(string(c), n-2) }

// codecSameValue reports whether a and b have the same type and value, comparing
// times by instant and zone offset and NaNs as equal.
func codecSameValue(a, b any) bool {
	return codecSameReflect(reflect.ValueOf(a), reflect.ValueOf(b))
}

var codecTimeType = reflect.TypeFor[time.Time]()

func codecSameReflect(a, b reflect.Value) bool {
	if !a.IsValid() || !b.IsValid() {
		return a.IsValid() == b.IsValid()
	}
	if a.Type() != b.Type() {
		return false
	}
	if a.Type() == codecTimeType && a.CanInterface() {
		ta, tb := a.Interface().(time.Time), b.Interface().(time.Time)
		_, oa := ta.Zone()
		_, ob := tb.Zone()
		return ta.Equal(tb) && oa == ob && (ta.Location() == time.UTC) == (tb.Location() == time.UTC)
	}
	switch a.Kind() {
	case reflect.Float32, reflect.Float64:
		fa, fb := a.Float(), b.Float()
		return fa == fb || math.IsNaN(fa) && math.IsNaN(fb)
	case reflect.Complex64, reflect.Complex128:
		ca, cb := a.Complex(), b.Complex()
		return codecSameReflect(reflect.ValueOf(real(ca)), reflect.ValueOf(real(cb))) &&
			codecSameReflect(reflect.ValueOf(imag(ca)), reflect.ValueOf(imag(cb)))
	case reflect.Slice:
		if a.IsNil() != b.IsNil() {
			return false
		}
		fallthrough
	case reflect.Array:
		if a.Len() != b.Len() {
			return false
		}
		for i := range a.Len() {
			if !codecSameReflect(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	case reflect.Map:
		if a.IsNil() != b.IsNil() || a.Len() != b.Len() {
			return false
		}
		for _, k := range a.MapKeys() {
			bv := b.MapIndex(k)
			if !bv.IsValid() || !codecSameReflect(a.MapIndex(k), bv) {
				return false
			}
		}
		return true
	case reflect.Pointer, reflect.Interface:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return codecSameReflect(a.Elem(), b.Elem())
	case reflect.Struct:
		for i := range a.NumField() {
			if !codecSameReflect(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	default:
		return a.Equal(b)
	}
}

func codecSameValues(t *testing.T, want, got map[string]any) {
	t.Helper()
	if len(want) != len(got) {
		t.Errorf("got %d values, want %d: %#v", len(got), len(want), got)
	}
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("%q missing", k)
			continue
		}
		if !codecSameValue(w, g) {
			t.Errorf("%q = %#v (%T), want %#v (%T)", k, g, g, w, w)
		}
	}
}

// codecTestSession holds at least one value of every native type and of the
// gob path.
func codecTestSession() map[string]any {
	return map[string]any{
		"login":    codecTestToken('a', 1200),
		"nil":      nil,
		"string":   "héllo",
		"bytes":    []byte{0, 1, 2, 0xff},
		"true":     true,
		"false":    false,
		"int":      -42,
		"int8":     int8(-8),
		"int16":    int16(-16),
		"int32":    int32(-32),
		"int64":    int64(math.MinInt64),
		"uint":     uint(42),
		"uint8":    uint8(8),
		"uint16":   uint16(16),
		"uint32":   uint32(32),
		"uint64":   uint64(math.MaxUint64),
		"float32":  float32(1.5),
		"float64":  math.Pi,
		"time":     time.Date(2024, 2, 29, 23, 59, 59, 999999999, codecTestZone),
		"strings":  []string{"a", "", "c"},
		"map":      map[string]string{"a": "b", "": ""},
		"user":     codecTestUser{ID: 7, Name: "Ann", Roles: []string{"admin"}},
		"myString": codecTestString("not a string"),
		"ints":     map[string]int{"a": 1},
	}
}

// codecTestGobSession is codecTestSession without what scs.GobCodec cannot
// encode unless the application registers it: nil, time.Time and
// map[string]string. Its times avoid negative offsets with seconds, which
// time.Time.MarshalBinary, and so gob, gets wrong (-3:00:17 comes back as
// -2:56:01); Codec keeps them.
func codecTestGobSession() map[string]any {
	values := codecTestSession()
	delete(values, "nil")
	delete(values, "time")
	delete(values, "map")
	return values
}

func TestCodecRoundTrip(t *testing.T) {
	t.Parallel()
	// Where the tag of a single value under the key "k" lands.
	tagAt := 2 + len(appendTime(nil, codecTestDeadline)) + 1 + 2

	tests := []struct {
		name  string
		value any
		tag   byte
	}{
		{"nil", nil, tagNil},
		{"string", "hello, wörld", tagString},
		{"empty string", "", tagString},
		{"bytes", []byte("\x00bytes\xff"), tagBytes},
		{"empty bytes", []byte{}, tagBytes},
		{"nil bytes", []byte(nil), tagBytes},
		{"true", true, tagTrue},
		{"false", false, tagFalse},
		{"int", 1234567, tagInt},
		{"int min", math.MinInt, tagInt},
		{"int max", math.MaxInt, tagInt},
		{"int8 min", int8(math.MinInt8), tagInt8},
		{"int8 max", int8(math.MaxInt8), tagInt8},
		{"int16", int16(math.MinInt16), tagInt16},
		{"int32", int32(math.MaxInt32), tagInt32},
		{"int64", int64(math.MinInt64), tagInt64},
		{"uint", uint(math.MaxUint), tagUint},
		{"uint8", uint8(255), tagUint8},
		{"uint16", uint16(math.MaxUint16), tagUint16},
		{"uint32", uint32(math.MaxUint32), tagUint32},
		{"uint64", uint64(math.MaxUint64), tagUint64},
		{"float32", float32(-3.25), tagFloat32},
		{"float32 NaN", float32(math.NaN()), tagFloat32},
		{"float64", math.SmallestNonzeroFloat64, tagFloat64},
		{"float64 inf", math.Inf(-1), tagFloat64},
		{"time UTC", time.Date(2024, 2, 29, 12, 0, 0, 1, time.UTC), tagTime},
		{"time fixed zone", time.Date(2024, 2, 29, 12, 0, 0, 999999999, codecTestZone), tagTime},
		{"time odd offset", time.Date(1890, 1, 1, 0, 0, 0, 0, codecTestWest), tagTime},
		{"time local", time.Date(2024, 7, 1, 12, 0, 0, 0, time.Local), tagTime},
		{"time now", time.Now(), tagTime},
		{"time zero", time.Time{}, tagTime},
		{"time far future", time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC), tagTime},
		{"strings", []string{"openid", "", "email"}, tagStrings},
		{"empty strings", []string{}, tagStrings},
		{"nil strings", []string(nil), tagStrings},
		{"string map", map[string]string{"a": "1", "b": ""}, tagStringMap},
		{"empty string map", map[string]string{}, tagStringMap},
		{"nil string map", map[string]string(nil), tagStringMap},
		{"gob struct", codecTestUser{ID: 1, Name: "Ann", Roles: []string{"a", "b"}}, tagGob},
		{"gob pointer", &codecTestRef{N: 2}, tagGob},
		{"gob map", map[string]int{"a": 1, "b": -2}, tagGob},
		{"named string", codecTestString("s"), tagGob},
		{"slice of ints", []int{1, 2, 3}, tagGob},
		{"complex", complex(1, 2), tagGob},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, err := Codec{}.Encode(codecTestDeadline, map[string]any{"k": tt.value})
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			if b[tagAt] != tt.tag {
				t.Errorf("tag = %d, want %d", b[tagAt], tt.tag)
			}
			deadline, values, err := Codec{}.Decode(b)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !deadline.Equal(codecTestDeadline) {
				t.Errorf("deadline = %v, want %v", deadline, codecTestDeadline)
			}
			codecSameValues(t, map[string]any{"k": tt.value}, values)

			if want, ok := tt.value.(time.Time); ok {
				got := values["k"].(time.Time)
				if got != got.Round(0) {
					t.Errorf("decoded time %v has a monotonic reading", got)
				}
				if g, w := got.Format(time.RFC3339Nano), want.Format(time.RFC3339Nano); g != w {
					t.Errorf("wall time = %s, want %s", g, w)
				}
			}
		})
	}
}

func TestCodecSession(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		deadline time.Time
		values   map[string]any
	}{
		{"every type", codecTestDeadline, codecTestSession()},
		{"empty map", codecTestDeadline, map[string]any{}},
		{"nil map", codecTestDeadline, nil},
		{"scs deadline", time.Now().Add(24 * time.Hour).UTC(), map[string]any{"a": 1}},
		{"local deadline", time.Now(), map[string]any{"a": 1}},
		{"zoned deadline", codecTestDeadline.In(codecTestZone), map[string]any{"a": 1}},
		{"zero deadline", time.Time{}, map[string]any{"a": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, err := Codec{}.Encode(tt.deadline, tt.values)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			deadline, values, err := Codec{}.Decode(b)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !codecSameValue(tt.deadline.Round(0), deadline) {
				t.Errorf("deadline = %v, want %v", deadline, tt.deadline)
			}
			if values == nil {
				t.Fatal("values = nil, want a map scs can Put into")
			}
			codecSameValues(t, tt.values, values)
		})
	}
}

func TestCodecReadsGobCodec(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		values map[string]any
	}{
		{"every type", codecTestGobSession()},
		{"token only", map[string]any{"login": codecTestToken('i', 1000)}},
		{"empty", map[string]any{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, err := scs.GobCodec{}.Encode(codecTestDeadline, tt.values)
			if err != nil {
				t.Fatalf("GobCodec.Encode: %v", err)
			}
			if b[0] == codecMagic {
				t.Fatalf("gob data starts with the magic byte")
			}
			deadline, values, err := Codec{}.Decode(b)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !deadline.Equal(codecTestDeadline) {
				t.Errorf("deadline = %v, want %v", deadline, codecTestDeadline)
			}
			if values == nil {
				t.Fatal("values = nil, want a map scs can Put into")
			}
			// gob has no nil or empty slices at the top level of an
			// interface and in struct fields, so compare with what
			// GobCodec itself decodes.
			_, want, err := scs.GobCodec{}.Decode(b)
			if err != nil {
				t.Fatalf("GobCodec.Decode: %v", err)
			}
			if want == nil {
				want = map[string]any{}
			}
			if values[RewriteKey] != true {
				t.Errorf("values[RewriteKey] = %v, want true for a gob session", values[RewriteKey])
			}
			delete(values, RewriteKey)
			codecSameValues(t, want, values)
		})
	}
}

func TestCodecEncodeError(t *testing.T) {
	t.Parallel()
	type unregistered struct{ A int }
	tests := []struct {
		name  string
		value any
	}{
		{"unregistered type", unregistered{1}},
		{"func", func() {}},
		{"channel", make(chan int)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Codec{}.Encode(codecTestDeadline, map[string]any{"k": tt.value})
			if err == nil || !strings.HasPrefix(err.Error(), "sessioncodec: ") {
				t.Errorf("err = %v, want an sessioncodec: error", err)
			}
		})
	}
}

// TestCodecTruncated decodes every prefix of a valid encoding.
func TestCodecTruncated(t *testing.T) {
	t.Parallel()
	b, err := Codec{}.Encode(codecTestDeadline, codecTestSession())
	if err != nil {
		t.Fatal(err)
	}
	for n := range len(b) {
		_, values, err := Codec{}.Decode(b[:n])
		if err == nil {
			t.Fatalf("Decode(%d of %d bytes) = %v, want an error", n, len(b), values)
		}
		if !strings.HasPrefix(err.Error(), "sessioncodec: ") {
			t.Fatalf("Decode(%d of %d bytes): error %q lacks the prefix", n, len(b), err)
		}
		if n > 0 && !errors.Is(err, errCodecCorrupt) {
			t.Fatalf("Decode(%d of %d bytes) = %v, want errCodecCorrupt", n, len(b), err)
		}
	}
	if _, _, err := (Codec{}).Decode(b); err != nil {
		t.Fatalf("Decode(all %d bytes): %v", len(b), err)
	}
}

// codecTestEncoding builds an encoding by hand: the header, a UTC deadline
// at the epoch, and the given entry count and entry bytes.
func codecTestEncoding(count byte, entries ...byte) []byte {
	return append([]byte{codecMagic, codecVersion, 0, 1, count}, entries...)
}

func TestCodecCorrupt(t *testing.T) {
	t.Parallel()
	gobOf := func(v any) []byte {
		b, err := Codec{}.Encode(time.Unix(0, 0).UTC(), map[string]any{"k": v})
		if err != nil {
			t.Fatal(err)
		}
		return b[7:] // the value's tag onwards
	}
	gobUser := gobOf(codecTestUser{ID: 1})
	tests := []struct {
		name   string
		reason string // in the error message
		data   []byte
	}{
		{"magic only", "truncated header", []byte{codecMagic}},
		{"no deadline", "truncated", []byte{codecMagic, codecVersion}},
		{"unknown tag", "unknown type tag 238", codecTestEncoding(1, 1, 'k', 0xee)},
		{"tag zero", "unknown type tag 0", codecTestEncoding(1, 1, 'k', 0)},
		{"missing entry", "count exceeds input", codecTestEncoding(2, 1, 'k', tagNil)},
		{"count exceeds input", "count exceeds input", codecTestEncoding(100, 1, 'k', tagNil)},
		{"huge count", "count exceeds input", append([]byte{codecMagic, codecVersion, 0, 1}, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f)},
		{"varint overflow", "varint overflows", append([]byte{codecMagic, codecVersion}, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01)},
		{"nanoseconds out of range", "nanoseconds out of range", []byte{codecMagic, codecVersion, 0, 0x81, 0xa8, 0xd6, 0xb9, 0x07, 0}},
		{"key longer than input", "length exceeds input", codecTestEncoding(1, 50, 'k', tagNil)},
		{"string longer than input", "length exceeds input", codecTestEncoding(1, 1, 'k', tagString, 50, 'x')},
		{"huge string length", "length exceeds input", codecTestEncoding(1, 1, 'k', tagString, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01)},
		{"bytes longer than input", "count exceeds input", codecTestEncoding(1, 1, 'k', tagBytes, 50, 'x')},
		{"strings count exceeds input", "count exceeds input", codecTestEncoding(1, 1, 'k', tagStrings, 50, 0)},
		{"pendings count exceeds input", "count exceeds input", codecTestEncoding(1, 1, 'k', tagPendings1, 3, 0, 0, 0, 0, 0, 0, 1)},
		{"truncated legacy login", "truncated", codecTestEncoding(1, 1, 'k', tagLogin1, 1, 'p')},
		{"int8 out of range", "integer out of range", codecTestEncoding(1, 1, 'k', tagInt8, 0x80, 0x02)},
		{"uint16 out of range", "integer out of range", codecTestEncoding(1, 1, 'k', tagUint16, 0x80, 0x80, 0x04)},
		{"short float64", "truncated", codecTestEncoding(1, 1, 'k', tagFloat64, 1, 2, 3)},
		{"duplicate key", "duplicate key", codecTestEncoding(2, 1, 'k', tagNil, 1, 'k', tagTrue)},
		{"duplicate map key", "duplicate key", codecTestEncoding(1, 1, 'k', tagStringMap, 3, 1, 'a', 0, 1, 'a', 0)},
		{"trailing bytes", "1 trailing bytes", codecTestEncoding(1, 1, 'k', tagNil, 0)},
		{"gob garbage", "gob value", codecTestEncoding(1, 1, 'k', tagGob, 3, 1, 2, 3)},
		{"gob trailing bytes", "trailing bytes after the value", codecTestEncoding(1, append(append([]byte{1, 'k', tagGob, gobUser[1] + 1}, gobUser[2:]...), 0)...)},
		{"gob truncated", "unexpected EOF", codecTestEncoding(1, append([]byte{1, 'k', tagGob, gobUser[1] - 1}, gobUser[2:len(gobUser)-1]...)...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, values, err := Codec{}.Decode(tt.data)
			if !errors.Is(err, errCodecCorrupt) || !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("Decode = %v, %v; want errCodecCorrupt: %s", values, err, tt.reason)
			}
		})
	}

	// The hand-built encodings are otherwise valid.
	if _, _, err := (Codec{}).Decode(codecTestEncoding(1, 1, 'k', tagNil)); err != nil {
		t.Errorf("valid hand-built encoding: %v", err)
	}
	if _, _, err := (Codec{}).Decode(codecTestEncoding(1, append([]byte{1, 'k'}, gobUser...)...)); err != nil {
		t.Errorf("valid hand-built gob encoding: %v", err)
	}
}

func TestCodecGobFallbackError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"garbage", []byte("not a session")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := Codec{}.Decode(tt.data)
			if err == nil || !strings.HasPrefix(err.Error(), "sessioncodec: ") {
				t.Errorf("err = %v, want an sessioncodec: error", err)
			}
		})
	}
}

func TestCodecUnknownVersion(t *testing.T) {
	t.Parallel()
	b, err := Codec{}.Encode(codecTestDeadline, map[string]any{"k": "v"})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []byte{0, sealedVersion + 1, 0xff} {
		t.Run(fmt.Sprint("version ", v), func(t *testing.T) {
			t.Parallel()
			data := append([]byte(nil), b...)
			data[1] = v
			_, _, err := Codec{}.Decode(data)
			if !errors.Is(err, ErrVersion) {
				t.Errorf("err = %v, want ErrVersion", err)
			}
		})
	}
}

// TestCodecSCS runs the codec inside scs: values Put in one request are there
// in the next, and sessions written by scs.GobCodec survive the switch.
func TestCodecSCS(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		writeCodec scs.Codec
	}{
		{"codec", Codec{}},
		{"switch from gob", scs.GobCodec{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			want := codecTestGobSession()

			store := memstore.NewWithCleanupInterval(0)
			newHandler := func(codec scs.Codec, got map[string]any) http.Handler {
				sm := scs.New()
				sm.Store = store
				sm.Codec = codec
				mux := http.NewServeMux()
				mux.HandleFunc("/put", func(w http.ResponseWriter, r *http.Request) {
					for k, v := range want {
						sm.Put(r.Context(), k, v)
					}
				})
				mux.HandleFunc("/get", func(w http.ResponseWriter, r *http.Request) {
					for _, k := range sm.Keys(r.Context()) {
						got[k] = sm.Get(r.Context(), k)
					}
					n := len(got)
					if _, ok := got[RewriteKey]; ok {
						n--
					}
					sm.Put(r.Context(), "visits", n)
				})
				return sm.LoadAndSave(mux)
			}
			serve := func(h http.Handler, path string, cookie *http.Cookie) *http.Cookie {
				t.Helper()
				req := httptest.NewRequest(http.MethodGet, path, nil)
				if cookie != nil {
					req.AddCookie(cookie)
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				resp := rec.Result()
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("GET %s: %s %s", path, resp.Status, rec.Body)
				}
				cookies := resp.Cookies()
				if len(cookies) != 1 {
					t.Fatalf("GET %s set %d cookies, want 1", path, len(cookies))
				}
				return cookies[0]
			}
			stored := func(token string) []byte {
				t.Helper()
				b, found, err := store.Find(token)
				if err != nil || !found {
					t.Fatalf("store.Find = %v, %v", found, err)
				}
				return b
			}

			cookie := serve(newHandler(tt.writeCodec, nil), "/put", nil)
			if _, ok := tt.writeCodec.(Codec); ok != (stored(cookie.Value)[0] == codecMagic) {
				t.Fatalf("stored data starts with %#x", stored(cookie.Value)[0])
			}

			got := map[string]any{}
			cookie = serve(newHandler(Codec{}, got), "/get", cookie)
			if _, gob := tt.writeCodec.(scs.GobCodec); gob != (got[RewriteKey] == true) {
				t.Errorf("values[RewriteKey] = %v after writing with %T", got[RewriteKey], tt.writeCodec)
			}
			delete(got, RewriteKey)
			codecSameValues(t, want, got)
			if b := stored(cookie.Value); b[0] != codecMagic {
				t.Errorf("session not rewritten by Codec: starts with %#x", b[0])
			}

			// Read back what Codec wrote.
			got = map[string]any{}
			serve(newHandler(Codec{}, got), "/get", cookie)
			want["visits"] = len(want)
			codecSameValues(t, want, got)
		})
	}
}

// codecBenchSession is a logged-in session: one record string the size of
// a login with three JWTs, as github.com/shopsso/sso keeps it.
func codecBenchSession() map[string]any {
	return map[string]any{"shopsso.login": codecTestToken('l', 3100)}
}

var codecBenchCodecs = []struct {
	name  string
	codec scs.Codec
}{
	{"codec=fast", Codec{}},
	{"codec=gob", scs.GobCodec{}},
}

func BenchmarkCodecEncode(b *testing.B) {
	deadline := time.Now().Add(24 * time.Hour).UTC()
	values := codecBenchSession()
	for _, bc := range codecBenchCodecs {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bc.codec.Encode(deadline, values); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkCodecDecode(b *testing.B) {
	deadline := time.Now().Add(24 * time.Hour).UTC()
	values := codecBenchSession()
	for _, bc := range codecBenchCodecs {
		b.Run(bc.name, func(b *testing.B) {
			data, err := bc.codec.Encode(deadline, values)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := bc.codec.Decode(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestCodecEncodesIntoExactSize checks that an encoding of native values
// takes exactly the memory it needs: a store like scs's memstore keeps the
// slice Encode returns, capacity and all.
func TestCodecEncodesIntoExactSize(t *testing.T) {
	t.Parallel()
	key := make([]byte, KeySize)
	sealed, err := New(key)
	if err != nil {
		t.Fatal(err)
	}
	values := codecTestSession()
	for _, k := range []string{"user", "myString", "ints", "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64"} {
		delete(values, k) // the gob path and varints are sized generously
	}
	for _, c := range []struct {
		name  string
		codec Codec
	}{{"plain", Codec{}}, {"sealed", sealed}} {
		t.Run(c.name, func(t *testing.T) {
			b, err := c.codec.Encode(time.Now(), values)
			if err != nil {
				t.Fatal(err)
			}
			if cap(b) != len(b) {
				t.Errorf("cap %d, len %d: want them equal", cap(b), len(b))
			}
		})
	}
}
