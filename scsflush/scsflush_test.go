package scsflush_test

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopsso/sso/scsflush"
)

var errNotFlusher = errors.New("the ResponseWriter is not an http.Flusher")

// flushers are the two ways a net/http handler flushes.
var flushers = map[string]func(http.ResponseWriter) error{
	"http.Flusher": func(w http.ResponseWriter) error {
		f, ok := w.(http.Flusher)
		if !ok {
			return errNotFlusher
		}
		f.Flush()
		return nil
	},
	"ResponseController": func(w http.ResponseWriter) error {
		return http.NewResponseController(w).Flush()
	},
}

func TestStreamingAfterSessionChange(t *testing.T) {
	tests := []struct {
		name       string
		wrap       bool
		flusher    string
		writeFirst bool // write a line before the first flush
		wantCookie bool // the session cookie is sent, and the change kept
	}{
		{"Flusher, flush before writing", true, "http.Flusher", false, true},
		{"Flusher, write then flush", true, "http.Flusher", true, true},
		{"ResponseController, flush before writing", true, "ResponseController", false, true},
		{"ResponseController, write then flush", true, "ResponseController", true, true},

		// Controls: without Wrap, a flush before the first write loses the
		// cookie (scs v2.9.0); writing first is safe.
		{"without Wrap: Flusher, flush before writing", false, "http.Flusher", false, false},
		{"without Wrap: ResponseController, flush before writing", false, "ResponseController", false, false},
		{"without Wrap: ResponseController, write then flush", false, "ResponseController", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sm := scs.New()
			release := make(chan struct{})
			flush := flushers[tt.flusher]

			mux := http.NewServeMux()
			mux.HandleFunc("GET /stream", func(w http.ResponseWriter, r *http.Request) {
				sm.Put(r.Context(), "streamed", "yes")
				w.Header().Set("Content-Type", "text/plain")
				if tt.writeFirst {
					_, _ = io.WriteString(w, "first\n")
				}
				if err := flush(w); err != nil {
					http.Error(w, err.Error(), http.StatusInternalServerError)
					return
				}
				if !tt.writeFirst {
					_, _ = io.WriteString(w, "first\n")
					_ = flush(w)
				}
				select { // the client has read "first": it was flushed
				case <-release:
				case <-r.Context().Done():
					return
				}
				_, _ = io.WriteString(w, "last\n")
			})
			mux.HandleFunc("GET /read", func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, sm.GetString(r.Context(), "streamed"))
			})
			var h http.Handler = mux
			if tt.wrap {
				h = scsflush.KeepCookie(h)
			}
			srv := httptest.NewServer(sm.LoadAndSave(h))
			t.Cleanup(srv.Close)

			jar, err := cookiejar.New(nil)
			require.NoError(t, err)
			// The timeout only bounds a failure: a stream that is not
			// flushed blocks the read of "first" until it fires.
			c := &http.Client{Jar: jar, Timeout: 10 * time.Second}

			resp, err := c.Get(srv.URL + "/stream")
			require.NoError(t, err)
			defer resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)
			if tt.wantCookie {
				assert.Len(t, sessionCookies(resp, sm.Cookie.Name), 1)
			} else {
				assert.Empty(t, sessionCookies(resp, sm.Cookie.Name))
			}
			br := bufio.NewReader(resp.Body)
			line, err := br.ReadString('\n')
			require.NoError(t, err)
			assert.Equal(t, "first\n", line, "the first line arrives while the handler still runs")
			close(release)
			rest, err := io.ReadAll(br)
			require.NoError(t, err)
			assert.Equal(t, "last\n", string(rest))

			resp, err = c.Get(srv.URL + "/read")
			require.NoError(t, err)
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			if tt.wantCookie {
				assert.Equal(t, "yes", string(b), "the session change is kept")
			} else {
				assert.Empty(t, string(b), "without the cookie the browser lost the session")
			}
		})
	}
}

// plainWriter is a ResponseWriter that records the status codes written
// to it and cannot flush.
type plainWriter struct {
	header   http.Header
	statuses []int
}

func (w *plainWriter) Header() http.Header         { return w.header }
func (w *plainWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *plainWriter) WriteHeader(code int)        { w.statuses = append(w.statuses, code) }

// flushWriter is a plainWriter that can flush.
type flushWriter struct {
	plainWriter
	flushed bool
}

func (w *flushWriter) Flush() { w.flushed = true }

func TestFlushWithoutFlusherUnderneath(t *testing.T) {
	pw := &plainWriter{header: http.Header{}}
	var err error
	var unwrapped http.ResponseWriter
	scsflush.KeepCookie(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err = http.NewResponseController(w).Flush()
		unwrapped = w.(interface{ Unwrap() http.ResponseWriter }).Unwrap()
	})).ServeHTTP(pw, httptest.NewRequest(http.MethodGet, "/", nil))
	assert.ErrorIs(t, err, http.ErrNotSupported)
	assert.Same(t, pw, unwrapped)
	assert.Equal(t, []int{http.StatusOK}, pw.statuses, "the header was written before the flush was tried")
}

func TestFlushWritesTheHeaderOnce(t *testing.T) {
	tests := []struct {
		name   string
		before func(http.ResponseWriter)
		want   []int
	}{
		{"nothing written", func(http.ResponseWriter) {}, []int{http.StatusOK}},
		{"header written", func(w http.ResponseWriter) { w.WriteHeader(http.StatusAccepted) }, []int{http.StatusAccepted}},
		{"body written", func(w http.ResponseWriter) { _, _ = w.Write([]byte("x")) }, nil},
		{"informational header only", func(w http.ResponseWriter) { w.WriteHeader(http.StatusEarlyHints) },
			[]int{http.StatusEarlyHints, http.StatusOK}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fw := &flushWriter{plainWriter: plainWriter{header: http.Header{}}}
			scsflush.KeepCookie(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				tt.before(w)
				w.(http.Flusher).Flush()
				w.(http.Flusher).Flush()
			})).ServeHTTP(fw, httptest.NewRequest(http.MethodGet, "/", nil))
			assert.Equal(t, tt.want, fw.statuses)
			assert.True(t, fw.flushed)
		})
	}
}

// sessionCookies returns the Set-Cookie headers of resp that set name.
func sessionCookies(resp *http.Response, name string) []*http.Cookie {
	var out []*http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == name {
			out = append(out, c)
		}
	}
	return out
}
