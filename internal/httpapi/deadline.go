package httpapi

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// writeDeadline gives every response d to reach the client, counted from its
// first byte: a client that reads slowly or not at all has its connection
// closed then, and the handler's write fails, which frees what the response
// held (its conversion memory above all). Counting from the first byte,
// rather than net/http's WriteTimeout from the end of the request headers,
// keeps the time spent waiting for Tempo out of it, so a slow Tempo answer
// is never cut off by the client's deadline. d <= 0 sets none.
func writeDeadline(d time.Duration) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		if d <= 0 {
			return next
		}
		return func(c echo.Context) error {
			res := c.Response()
			w := &deadlineWriter{ResponseWriter: res.Writer, rc: http.NewResponseController(res.Writer), d: d}
			// Clear what a previous response on this connection left.
			_ = w.rc.SetWriteDeadline(time.Time{})
			res.Writer = w
			return next(c)
		}
	}
}

// deadlineWriter sets the write deadline at the first byte of the response.
type deadlineWriter struct {
	http.ResponseWriter
	rc      *http.ResponseController
	d       time.Duration
	started bool
}

func (w *deadlineWriter) start() {
	if !w.started {
		w.started = true
		_ = w.rc.SetWriteDeadline(time.Now().Add(w.d))
	}
}

func (w *deadlineWriter) WriteHeader(code int) {
	w.start()
	w.ResponseWriter.WriteHeader(code)
}

func (w *deadlineWriter) Write(b []byte) (int, error) {
	w.start()
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController (Flush, deadlines) reach the
// connection's writer.
func (w *deadlineWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
