package stamp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// SQLSTATEs the reader acts on.
const pgInvalidStatementName = "26000" // the prepared set is gone

// reader holds what the server sent and the Conn has not yet handed to pgx.
type reader struct {
	c     *Conn
	in    []byte // bytes read; in[pos:] are not processed yet
	pos   int
	want  int    // the size of a message that must be read whole before it is processed
	out   []byte // processed bytes; out[opos:] are not read yet
	opos  int
	passR int   // bytes of the current message still to pass as they come
	dropR int   // bytes of the current message still to drop as they come
	err   error // a read error, returned once out is read
	lost  error // the server's answers are out of step with the units: every read fails
}

// ErrOutOfStep is the error of every read once the server answered what nothing sent asked for:
// a ReadyForQuery with no Sync or Query waiting for it, or a statement's message with nothing
// waiting at all. Which statement the messages that follow answer is then unknown, and pgx would
// hand one operation another one's results; the connection fails instead, and pgx closes it.
var ErrOutOfStep = errors.New("stamp: the server answered what no statement sent asked for; the connection is closed")

func (r *reader) empty() bool {
	return r.opos == len(r.out) && r.pos == len(r.in) && r.passR == 0 && r.dropR == 0
}

func (r *reader) read(p []byte) (int, error) {
	for r.opos == len(r.out) {
		if r.lost != nil {
			return 0, r.lost
		}
		if r.err != nil {
			err := r.err
			r.err = nil
			return 0, err
		}
		r.out, r.opos = r.out[:0], 0
		n := copy(r.in, r.in[r.pos:])
		r.in, r.pos = r.in[:n], 0
		if c := max(8192, r.want, 2*len(r.in)); cap(r.in) < c || cap(r.in) == len(r.in) {
			r.in = append(make([]byte, 0, max(c, 2*cap(r.in))), r.in...)
		}
		n, err := r.c.Conn.Read(r.in[len(r.in):cap(r.in)])
		r.in = r.in[:len(r.in)+n]
		r.process()
		r.err = err
	}
	n := copy(p, r.out[r.opos:])
	r.opos += n
	return n, nil
}

// process moves what was read to out, less the responses to stamps.
func (r *reader) process() {
	c := r.c
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		avail := r.in[r.pos:]
		switch {
		case r.passR > 0 || r.dropR > 0:
			if len(avail) == 0 {
				return
			}
			if r.passR > 0 {
				n := min(r.passR, len(avail))
				r.out = append(r.out, avail[:n]...)
				r.passR -= n
				r.pos += n
			} else {
				n := min(r.dropR, len(avail))
				r.dropR -= n
				r.pos += n
			}
			continue
		case len(avail) < 5:
			return
		}
		typ := avail[0]
		size := 1 + int(binary.BigEndian.Uint32(avail[1:]))
		head := c.head()
		switch {
		case head == nil && typ != 'S' && typ != 'A' && typ != 'N' && typ != 'E':
			// ParameterStatus, NotificationResponse, NoticeResponse and a FATAL error (the
			// backend was terminated) may come unasked; nothing else may.
			r.outOfStep(typ)
			return
		case head != nil && head.kind == unitQuery && (typ == 'C' || typ == 'E' || typ == 'I'):
			head.ran = true // a tag, an error or EmptyQueryResponse answers the caller's text
		}
		switch {
		case typ == 'Z' || typ == 'C' || typ == 'E' || typ == 't' && head != nil && head.kind == unitDescribe:
			if len(avail) < size {
				r.want = size
				return
			}
			r.want = 0
			r.pos += size
			if !r.message(typ, avail[:size], head) {
				return
			}
		case typ == 'S' || typ == 'A': // ParameterStatus, NotificationResponse: never a stamp's
			r.pass(avail, size)
		case head != nil && (head.kind == unitStamp || head.kind == unitStampQuery):
			r.drop(avail, size)
			if head.tagged && (typ == '1' || typ == '3') {
				if head.after--; head.after == 0 {
					c.pop() // the last completion of a statement the stamp prepared again
				}
			}
		default:
			switch {
			case head != nil && head.kind == unitExecute && (typ == 'I' || typ == 's'):
				c.popDone() // EmptyQueryResponse, PortalSuspended: the end of an Execute
			case head != nil && head.kind == unitDescribe && (typ == 'T' || typ == 'n'):
				c.pop() // RowDescription, NoData: the end of a Describe
			}
			r.pass(avail, size)
		}
	}
}

func (r *reader) pass(avail []byte, size int) {
	n := min(size, len(avail))
	r.out = append(r.out, avail[:n]...)
	r.pos += n
	r.passR = size - n
}

func (r *reader) drop(avail []byte, size int) {
	n := min(size, len(avail))
	r.pos += n
	r.dropR = size - n
}

// outOfStep makes every read fail with ErrOutOfStep, after what was processed before the message
// typ.
func (r *reader) outOfStep(typ byte) {
	r.lost = fmt.Errorf("%w (message %q)", ErrOutOfStep, typ)
}

// message handles a whole ReadyForQuery, CommandComplete or ErrorResponse; false means that the
// answers are out of step (outOfStep), and nothing more is processed.
func (r *reader) message(typ byte, msg []byte, head *unit) bool {
	c := r.c
	stamped := head != nil && (head.kind == unitStamp || head.kind == unitStampQuery)
	switch typ {
	case 'Z':
		ended := false
		for u := head; u != nil && !ended; u = c.head() { // a Sync or a Query ends here, with what it left
			ended = u.kind == unitSync || u.kind == unitQuery
			if u.kind == unitQuery && u.shift > 0 && !u.ran {
				// The caller's text holds no statement: the server answers that with
				// EmptyQueryResponse, but not when the stamp's statements come before it.
				r.out = append(r.out, emptyQueryResponse...)
			}
			c.pop()
		}
		if !ended { // the units it popped are moot: the connection is done
			r.outOfStep(typ)
			return false
		}
		if len(msg) > 5 {
			c.status.Store(uint32(msg[5]))
		}
	case 'C':
		if stamped {
			switch {
			case head.kind == unitStampQuery && head.tags > 1:
				head.tags--
			case head.kind == unitStamp && head.after > 0:
				head.tagged = true // then the completions of what it prepares again
			default:
				c.pop()
			}
			return true // the stamp's own tag
		}
		tag := string(msg[5 : len(msg)-1])
		if strings.HasPrefix(tag, "DEALLOCATE") || strings.HasPrefix(tag, "DISCARD") {
			c.stale.Store(true)
			c.deallocs.Add(1)
		}
		if head != nil && head.kind == unitExecute {
			c.popDone()
		}
	case 't':
		var pd pgproto3.ParameterDescription
		if pd.Decode(msg[5:]) == nil {
			oids := pd.ParameterOIDs
			head.desc.oids.Store(&oids)
		}
	case 'E':
		switch {
		case stamped:
			c.stale.Store(true) // whatever failed, preparing the set again is safe
			var er pgproto3.ErrorResponse
			if er.Decode(msg[5:]) == nil {
				c.setErr = pgconn.ErrorResponseToPgError(&er)
			}
			kind := head.kind
			c.pop()
			if kind == unitStamp {
				c.skipToSync()
			} else if q := c.head(); q != nil && q.kind == unitQuery {
				q.ran = true // the server runs nothing more of the Query: the error is its answer
			}
		case head != nil && head.kind == unitExecute:
			c.skipToSync()
		case head != nil && head.kind == unitQuery && head.shift > 0:
			msg = unshift(msg, head.shift)
		}
	}
	r.out = append(r.out, msg...)
	return true
}

// emptyQueryResponse is the server's answer to a Query whose text holds no statement.
var emptyQueryResponse = []byte{'I', 0, 0, 0, 4}

// unshift returns an ErrorResponse whose position in the text of a Query is counted from the
// caller's text, without the stamp in front of it.
func unshift(msg []byte, shift int) []byte {
	var er pgproto3.ErrorResponse
	if er.Decode(msg[5:]) != nil || er.Position <= int32(shift) {
		return msg
	}
	er.Position -= int32(shift)
	out, err := er.Encode(nil)
	if err != nil {
		return msg
	}
	return out
}

// head returns the oldest unit, or nil. c.mu must be held.
func (c *Conn) head() *unit {
	if c.uhead == len(c.units) {
		return nil
	}
	return &c.units[c.uhead]
}

// pop removes the oldest unit; the queue's memory serves again once it is empty. An Execute
// removed before its end failed, or never ran: the copy its stamp prepared is not used. c.mu must
// be held.
func (c *Conn) pop() {
	if u := &c.units[c.uhead]; u.verify != nil {
		u.verify.state.Store(copyFailed)
		u.verify = nil
	}
	if c.uhead++; c.uhead == len(c.units) {
		c.units, c.uhead = c.units[:0], 0
	}
}

// popDone removes the oldest unit, an Execute that ended without an error: the copy its stamp
// prepared serves the tenant's next uses. c.mu must be held.
func (c *Conn) popDone() {
	if u := &c.units[c.uhead]; u.verify != nil {
		u.verify.state.Store(copyReady)
		u.verify = nil
	}
	c.pop()
}

// skipToSync removes the units up to the next Sync: after an error, the server skips what
// follows up to the Sync, and answers none of it; a skipped stamp that was to prepare the set
// again leaves it to the next one. c.mu must be held.
func (c *Conn) skipToSync() {
	for u := c.head(); u != nil && u.kind != unitSync; u = c.head() {
		if u.reparse {
			c.stale.Store(true) // its Close and Parse of the set never ran
		}
		c.pop()
	}
}
