// Package scsflush keeps the session cookie of scs
// ([github.com/alexedwards/scs/v2]) on responses that are flushed before
// their first write. It knows nothing of logins; it fixes how scs's
// LoadAndSave and flushing handlers (event streams, Echo) meet.
package scsflush

import "net/http"

// KeepCookie returns a handler that calls next with a ResponseWriter whose Flush
// (and FlushError, which [http.NewResponseController] uses) first writes the
// header, with status 200, through the writer it is given when nothing has
// been written yet, so the session cookie that scs adds on WriteHeader goes
// out with it; then it flushes.
//
// LoadAndSave hands the handler a ResponseWriter of its own that adds the
// session cookie to the header on the first Write or WriteHeader. Its Flush
// method (scs v2.9.0) flushes the server's writer without doing that first,
// so a handler that flushes before writing anything — an event stream
// sending its header at once, Echo's c.Response().Flush(), a
// [http.ResponseController] — sends the header without the session cookie.
// scs then adds the cookie to a header that has already gone. The session
// change is saved in the store, but the browser never learns the session's
// new ID: a new session, or the one a login has just renewed, is lost.
// (Gin's c.Writer.Flush writes the header first and is not affected.)
//
// It must run inside LoadAndSave: sm.LoadAndSave(scsflush.KeepCookie(mux)).
// Outside it there is no session writer to write through, and it changes
// nothing. Apps that never flush before their first write do not need it.
func KeepCookie(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&flushWriter{ResponseWriter: w}, r)
	})
}

// flushWriter adds Flush to the writer scs's LoadAndSave hands on.
type flushWriter struct {
	http.ResponseWriter
	wroteHeader bool
}

func (w *flushWriter) WriteHeader(code int) {
	// An informational (1xx) header is not the response's header: a flush
	// after one still has to write the final one. 101 is final.
	if code >= http.StatusOK || code == http.StatusSwitchingProtocols {
		w.wroteHeader = true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *flushWriter) Write(b []byte) (int, error) {
	w.wroteHeader = true
	return w.ResponseWriter.Write(b)
}

// Flush implements [http.Flusher]. Errors are dropped, as the interface
// has no way to report them; use [http.NewResponseController] to see them.
func (w *flushWriter) Flush() { _ = w.FlushError() }

// FlushError writes the header, if not yet written, through the wrapped
// writer, then flushes the server's writer. It returns an error wrapping
// [http.ErrNotSupported] when no writer underneath can flush.
func (w *flushWriter) FlushError() error {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap returns the wrapped writer, for [http.NewResponseController].
func (w *flushWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
