package stamp

import (
	"bytes"
	"encoding/binary"

	"github.com/jackc/pgx/v5/pgproto3"
)

// Write writes p, with a stamp before each statement. It returns len(p) when all of it, and the
// stamps, were written. A message that p ends in the middle of waits for the rest, except bodies
// that pass as they are (CopyData and the like) once their type is known.
func (c *Conn) Write(p []byte) (int, error) {
	if !c.armed.Load() {
		return c.Conn.Write(p)
	}
	data := p
	if len(c.hold) > 0 {
		c.hold = append(c.hold, p...)
		data = c.hold
	}
	out := c.wbuf[:0]
	changed := len(c.hold) > 0 // a held start goes out of another buffer than p
	from := 0                  // data[from:i] is still to be copied to out as it is
	i := 0
	for i < len(data) {
		if c.passW > 0 {
			n := min(c.passW, len(data)-i)
			c.passW -= n
			i += n
			continue
		}
		if len(data)-i < 5 {
			break
		}
		typ := data[i]
		size := 1 + int(binary.BigEndian.Uint32(data[i+1:]))
		switch typ {
		case 'Q':
			if len(data)-i < size {
				goto held
			}
			if q, ok := c.stampQuery(data[i : i+size]); ok {
				out = append(append(out, data[from:i]...), q...)
				from, changed = i+size, true
			}
			i += size
			continue
		case 'P', 'B', 'D', 'C':
			if len(data)-i < size {
				goto held // a name is read from it
			}
			msg := data[i : i+size]
			if c.needSet && !c.off {
				st, bind := c.stamp(msg)
				out = append(append(out, data[from:i]...), st...)
				from, changed = i, true
				if bind != nil {
					out = append(out, bind...)
					from = i + size
				}
			}
			c.needSet = false
			c.track(msg)
		case 'E':
			c.push(unit{kind: unitExecute, verify: c.verify})
			c.verify = nil
			c.needSet = true
		case 'S':
			if c.verify != nil { // a stamp prepared a copy for a statement that ran no Execute
				c.verify.state.Store(copyFailed)
				c.verify = nil
			}
			c.push(unit{kind: unitSync})
			c.needSet = true
		case 'F':
			c.push(unit{kind: unitQuery})
		}
		n := min(size, len(data)-i)
		c.passW = size - n
		i += n
	}
held:
	rest := append([]byte(nil), data[i:]...)
	if !changed && len(rest) == 0 {
		c.hold = c.hold[:0]
		c.wbuf = out
		if _, err := c.Conn.Write(p); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	out = append(out, data[from:i]...)
	c.hold = append(c.hold[:0], rest...)
	c.wbuf = out
	if len(out) > 0 {
		if _, err := c.Conn.Write(out); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// stamp returns the stamp of a statement of the extended protocol, whose first message is first,
// and queues its responses. In a failed transaction it returns nothing: the server runs nothing
// but ROLLBACK there, and a set would fail in its place. When first binds or describes a statement
// of pgx's that a DEALLOCATE or DISCARD dropped since it was prepared, the stamp prepares it
// again, in the tenant's path: pgx's cache still holds it. When first binds a statement of pgx's
// that another tenant prepared, bind is first renamed to the tenant's copy of it, or the stamp
// prepares that copy (copies.go).
func (c *Conn) stamp(first []byte) (stamp, bind []byte) {
	if c.TxStatus() == 'E' {
		return nil, nil
	}
	reparse := c.stale.Swap(false)
	name, names := statementUsed(first)
	var again, p *parsed
	if names && len(name) > 0 {
		p = c.parses[string(name)]
		again = c.droppedStatement(p)
	}
	var prepare *statementCopy
	if first[0] == 'B' && p != nil {
		var use *statementCopy
		if use, prepare = c.copyFor(p); use != nil {
			c.bbuf = renameBind(c.bbuf[:0], first, use.server)
			bind = c.bbuf
		}
	}
	ext := c.cur.ext
	if c.opts.Reparse {
		if names && len(name) == 0 { // the unnamed statement that pgx parsed earlier (describe_exec)
			reparse = true // the set is prepared under its name, with each use
		} else {
			ext, reparse = c.cur.extParse, false // unnamed: no server session keeps it
		}
	}
	if !reparse && again == nil && prepare == nil && len(c.toClose) == 0 {
		c.push(unit{kind: unitStamp})
		return ext, bind
	}
	u := unit{kind: unitStamp, reparse: reparse}
	c.sbuf = c.sbuf[:0]
	if reparse {
		c.sbuf = append(c.sbuf, c.reparse...)
	}
	c.sbuf = append(c.sbuf, ext...)
	// What follows the set resolves names in the tenant's path; the reader drops the completions.
	if again != nil {
		c.sbuf = encode(c.sbuf, &pgproto3.Close{ObjectType: 'S', Name: again.name})
		c.sbuf = append(c.sbuf, again.msg...)
		u.after += 2
	}
	for _, name := range c.toClose {
		c.sbuf = encode(c.sbuf, &pgproto3.Close{ObjectType: 'S', Name: name})
		u.after++
	}
	c.toClose = c.toClose[:0]
	if prepare != nil {
		c.sbuf = appendCopyParse(c.sbuf, prepare)
		u.after++
		c.verify = prepare
	}
	c.push(u)
	return c.sbuf, bind
}

// statementUsed returns the name of the prepared statement that msg uses ("" for the unnamed
// one), and whether msg uses one: a Bind, or a Describe of a statement. A Close uses none: the
// statement it closes needs neither a copy nor to be prepared again.
func statementUsed(msg []byte) (name []byte, ok bool) {
	switch msg[0] {
	case 'B':
		return cstring(cstringRest(msg[5:])), true
	case 'D':
		return statementNamed(msg)
	}
	return nil, false
}

// statementNamed returns the name of the prepared statement that a Describe or Close names, and
// whether it names a statement rather than a portal.
func statementNamed(msg []byte) (name []byte, ok bool) {
	if len(msg) > 6 && msg[5] == 'S' {
		return cstring(msg[6:]), true
	}
	return nil, false
}

// droppedStatement returns p, a statement of pgx's that the first message of a statement binds or
// describes, when the server may have dropped it since pgx prepared it, and records that it is
// prepared again, in the current Set.
func (c *Conn) droppedStatement(p *parsed) *parsed {
	gen := c.deallocs.Load()
	if p == nil || gen == 0 || p.gen == gen { // gen 0, the common case: nothing was ever deallocated
		return nil
	}
	p.gen, p.owner = gen, c.cur.schema
	return p
}

// track keeps pgx's Parse messages of named statements, and forgets those it closes, with their
// copies; it queues the responses to pgx's Describe of a named statement, whose parameter types
// the reader keeps for the copies.
func (c *Conn) track(msg []byte) {
	switch msg[0] {
	case 'P':
		name := cstring(msg[5:])
		if len(name) == 0 {
			return
		}
		if p, ok := c.parses[string(name)]; ok {
			c.closeCopies(p) // the server dropped the statement, with its plans, or pgx reuses the name
			if bytes.Equal(p.msg, msg) {
				p.gen, p.owner = c.deallocs.Load(), c.cur.schema // the same statement again
				return
			}
		}
		c.parses[string(name)] = &parsed{name: string(name), msg: append([]byte(nil), msg...), gen: c.deallocs.Load(),
			query: string(cstring(cstringRest(msg[5:]))), owner: c.cur.schema}
	case 'D':
		if name, ok := statementNamed(msg); ok {
			if p, ok := c.parses[string(name)]; ok {
				c.push(unit{kind: unitDescribe, desc: p})
			}
		}
	case 'C':
		if name, ok := statementNamed(msg); ok {
			if p, ok := c.parses[string(name)]; ok {
				c.closeCopies(p)
				delete(c.parses, string(name))
			}
		}
	}
}

// cstring returns the NUL-terminated string at the start of b, without its NUL.
func cstring(b []byte) []byte {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return b[:i]
	}
	return nil
}

// cstringRest returns what follows the NUL-terminated string at the start of b.
func cstringRest(b []byte) []byte {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return b[i+1:]
	}
	return nil
}

// stampQuery returns the Query message q with the stamp in front of its text, and queues the
// responses; ok is false when q goes as it is (stamping is off, or the transaction failed).
func (c *Conn) stampQuery(q []byte) (_ []byte, ok bool) {
	if c.off || c.TxStatus() == 'E' {
		c.push(unit{kind: unitQuery})
		return nil, false
	}
	prefix, tags := c.cur.queryTx, c.cur.tagsTx
	if c.TxStatus() == 'I' {
		prefix, tags = c.cur.queryIdle, c.cur.tagsIdle
	}
	body := q[5:] // the text and its NUL
	out := append(c.sbuf[:0], 'Q', 0, 0, 0, 0)
	binary.BigEndian.PutUint32(out[1:], uint32(4+len(prefix)+len(body)))
	out = append(append(out, prefix...), body...)
	c.sbuf = out
	c.push(unit{kind: unitStampQuery, tags: tags})
	c.push(unit{kind: unitQuery, shift: len(prefix)})
	c.needSet = true
	return out, true
}
