package httpapi

import (
	"context"
	"log/slog"
	"math"
	"strconv"
	"time"

	"github.com/gooclaim/auth/internal/bufpool"
	"github.com/gooclaim/auth/internal/jsonenc"
)

// The request log's line written without slog: when Server.RequestLogJSON
// names the writer of Logger's slog.JSONHandler, logRequests appends the
// line itself, byte for byte what that handler writes for the same record
// (FuzzRequestLine compares them), and writes it there.
//
// Why hand-written: the line is written for every request, and through
// slog it costs about 2 µs and two allocations — a Record whose attributes
// past the fifth are copied to the heap, runtime.Callers for a source that
// is not printed, a json.Encoder run by reflection for the one float —
// several percent of a token's CPU. slog offers no cheaper path for a
// fixed set of fields, and a logging library with its own format
// (zerolog, zap) would change the line. Only the three kinds the request
// line uses are encoded (strings, ints, floats in the range written
// without an exponent); anything else, and a time whose year RFC 3339
// cannot write, goes through slog as before.

// appendLogLine appends the JSON line slog.JSONHandler (no ReplaceAttr, no
// AddSource, no WithAttrs or WithGroup) writes for a record at level INFO
// with time t, message msg and attrs; ok is false when attrs hold a value
// it does not encode (nothing useful is appended then).
func appendLogLine(dst []byte, t time.Time, msg string, attrs []slog.Attr) (_ []byte, ok bool) {
	if y := t.Year(); y < 0 || y >= 10000 {
		return dst, false
	}
	dst = append(dst, `{"time":"`...)
	dst = t.Round(0).AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, `","level":"INFO","msg":`...)
	dst = jsonenc.AppendLogString(dst, msg)
	for _, a := range attrs {
		if a.Key == "" {
			return dst, false // slog drops an empty attribute; no line here has one
		}
		dst = append(dst, ',')
		dst = jsonenc.AppendLogString(dst, a.Key)
		dst = append(dst, ':')
		switch v := a.Value; v.Kind() {
		case slog.KindString:
			dst = jsonenc.AppendLogString(dst, v.String())
		case slog.KindInt64:
			dst = strconv.AppendInt(dst, v.Int64(), 10)
		case slog.KindFloat64:
			f := v.Float64()
			// encoding/json, which slog uses for floats, writes these
			// as strconv's 'f' format; others with an exponent.
			if abs := math.Abs(f); math.IsNaN(f) || math.IsInf(f, 0) || (abs != 0 && (abs < 1e-6 || abs >= 1e21)) {
				return dst, false
			}
			dst = strconv.AppendFloat(dst, f, 'f', -1, 64)
		default:
			return dst, false
		}
	}
	return append(dst, "}\n"...), true
}

// logRequestLine writes the request's line: straight to RequestLogJSON
// when set and the line can be, else through Logger.
func (s *Server) logRequestLine(ctx context.Context, attrs []slog.Attr) {
	if s.RequestLogJSON != nil {
		if !s.Logger.Enabled(ctx, slog.LevelInfo) {
			return
		}
		lb := bufpool.Get()
		var ok bool
		lb.B, ok = appendLogLine(lb.B, time.Now(), "request", attrs)
		if ok {
			s.RequestLogJSON.Write(lb.B)
		}
		bufpool.Put(lb)
		if ok {
			return
		}
	}
	s.Logger.LogAttrs(ctx, slog.LevelInfo, "request", attrs...)
}
