package httpapi

import (
	"errors"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/labstack/echo/v4"
)

// writeDeadline gives every response d to reach the client, counted from its
// first byte: a client that reads slowly or not at all has its connection
// closed then, and the handler's write fails, which frees what the response
// held (its conversion memory above all). Counting from the first byte,
// rather than net/http's WriteTimeout from the end of the request headers,
// keeps the time spent waiting for Tempo out of it, so a slow Tempo answer
// is never cut off by the client's deadline. A response cut off is logged
// (a warning: the client, or the network to it, is too slow for d). d <= 0
// sets none.
func writeDeadline(d time.Duration, logger *slog.Logger) echo.MiddlewareFunc {
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
			err := next(c)
			if w.cutOff {
				logger.WarnContext(c.Request().Context(), "response cut off: the client did not take it within the write timeout",
					slog.String("request_id", res.Header().Get(echo.HeaderXRequestID)),
					slog.String("route", c.Path()),
					slog.Int64("bytes_written", res.Size),
					slog.Duration("write_timeout", d))
			}
			return err
		}
	}
}

// deadlineWriter sets the write deadline at the first byte of the response.
type deadlineWriter struct {
	http.ResponseWriter
	rc      *http.ResponseController
	d       time.Duration
	started bool
	cutOff  bool // a write failed at the deadline
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
	n, err := w.ResponseWriter.Write(b)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		w.cutOff = true
	}
	return n, err
}

// Unwrap lets http.ResponseController (Flush, deadlines) reach the
// connection's writer.
func (w *deadlineWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
