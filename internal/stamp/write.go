package stamp

import (
	"encoding/binary"
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
			if c.needSet && !c.off {
				out = append(append(out, data[from:i]...), c.stamp()...)
				from, changed = i, true
			}
			c.needSet = false
		case 'E':
			c.push(unit{kind: unitExecute})
			c.needSet = true
		case 'S':
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

// stamp returns the stamp of a statement of the extended protocol, and queues its responses. In a
// failed transaction it returns nothing: the server runs nothing but ROLLBACK there, and a set
// would fail in its place.
func (c *Conn) stamp() []byte {
	if c.TxStatus() == 'E' {
		return nil
	}
	reparse := c.opts.Reparse || c.stale.Swap(false)
	c.push(unit{kind: unitStamp, reparse: reparse})
	if !reparse {
		return c.cur.ext
	}
	c.sbuf = append(append(c.sbuf[:0], c.reparse...), c.cur.ext...)
	return c.sbuf
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
