package stamp

import (
	"slices"
	"strconv"
	"sync/atomic"

	"github.com/jackc/pgx/v5/pgproto3"
)

// Copies of pgx's statements, one per tenant.
//
// pgx names a cached statement by its SQL text, so one server statement serves every tenant of a
// connection. PostgreSQL analyses and plans a prepared statement again whenever the search path
// differs from the one it was last planned in: on a connection that switches tenants on nearly
// every operation, nearly every execution pays for a parse analysis and a plan. So the Conn keeps,
// under names of its own, a copy of the statement for each other tenant that uses it, prepared in
// that tenant's path, and renames pgx's Bind to the tenant's copy: each copy keeps its plan.
//
// The owner of a statement, the tenant whose Set was current when pgx prepared it, uses it under
// pgx's name. Another tenant's first use runs pgx's statement itself, and so does its second,
// which PostgreSQL checks in the tenant's path (SQLSTATE 0A000, "cached plan must not change
// result type", when the rows' shape differs, before anything runs); the stamp of that second use
// prepares the copy, after the set, with the parameter types that the server gave pgx's statement, so that pgx's encoding of
// the arguments means the same to the copy. The copy serves from the next use on, once that first
// use succeeded: then the copy's result has the shape that pgx decodes. A first use that fails
// leaves the copy unused; the next use closes it and tries again. pgx closes its statement after
// any error, and the Conn closes the copies with it.
//
// A connection holds at most Options.MaxCopies copies (DefaultMaxCopies when 0, none when
// negative); beyond that the oldest is closed, so that a backend's memory stays bounded by the
// copies' plans.

// DefaultMaxCopies is how many copies a connection holds when Options.MaxCopies is 0: pgx's own
// default statement cache holds 512 statements.
const DefaultMaxCopies = 512

// copyNamePrefix names the copies on the server, followed by a number that is unique on the
// connection. A caller that prepares such a name itself loses it to the Conn's Close.
const copyNamePrefix = "pgschemas_c"

// The states of a copy.
const (
	copyPending int32 = iota // prepared in a stamp whose statement has not finished yet
	copyReady                // the tenant's first use succeeded: Binds go to the copy
	copyFailed               // the first use failed: close the copy, and prepare it again
)

// statementCopy is one tenant's copy of a statement of pgx's.
type statementCopy struct {
	server string // the copy's name on the server
	of     *parsed
	schema string
	gen    uint64       // the count of DEALLOCATE or DISCARD commands when it was prepared
	state  atomic.Int32 // written by the reader once the first use finished
	gone   bool         // closed: the ring of copies skips it
}

// copyFor returns, for a Bind of p, the copy that the Bind should be renamed to (nil for none),
// and the copy that the stamp should prepare (nil for none). It runs as the stamp of the Bind is
// made.
func (c *Conn) copyFor(p *parsed) (use, prepare *statementCopy) {
	if c.opts.MaxCopies < 0 || p.owner == c.cur.schema || p.oids.Load() == nil {
		return nil, nil // no copies, the owner's own use, or not described yet
	}
	gen := c.deallocs.Load()
	cp := p.copies[c.cur.schema]
	if cp == nil {
		if _, again := p.usedBy[c.cur.schema]; !again {
			if p.usedBy == nil {
				p.usedBy = map[string]struct{}{}
			}
			p.usedBy[c.cur.schema] = struct{}{} // a tenant that runs it once gets no copy
			return nil, nil
		}
		delete(p.usedBy, c.cur.schema)
	}
	if cp != nil && cp.gen == gen {
		switch cp.state.Load() {
		case copyReady:
			return cp, nil
		case copyPending:
			return nil, nil // an earlier statement of the same flush prepares it
		}
	}
	if cp != nil {
		c.closeCopy(cp) // failed, or a DEALLOCATE or DISCARD may have dropped it
	}
	c.copySeq++
	cp = &statementCopy{server: copyNamePrefix + strconv.FormatUint(c.copySeq, 10), of: p, schema: c.cur.schema, gen: gen}
	if p.copies == nil {
		p.copies = map[string]*statementCopy{}
	}
	p.copies[c.cur.schema] = cp
	c.ring = append(c.ring, cp)
	c.live++
	for c.live > c.maxCopies() {
		c.evictOldest()
	}
	if len(c.ring) > 2*c.live+64 { // closed copies pile up when pgx closes its statements
		c.ring = slices.DeleteFunc(c.ring, func(cp *statementCopy) bool { return cp.gone })
	}
	return nil, cp
}

func (c *Conn) maxCopies() int {
	if c.opts.MaxCopies > 0 {
		return c.opts.MaxCopies
	}
	return DefaultMaxCopies
}

// evictOldest closes the oldest copy still open.
func (c *Conn) evictOldest() {
	for len(c.ring) > 0 {
		cp := c.ring[0]
		c.ring[0] = nil
		c.ring = c.ring[1:]
		if !cp.gone {
			c.closeCopy(cp)
			return
		}
	}
}

// closeCopy forgets cp, and closes it with the next stamp.
func (c *Conn) closeCopy(cp *statementCopy) {
	if cp.gone {
		return
	}
	cp.gone = true
	c.live--
	if cp.of.copies[cp.schema] == cp {
		delete(cp.of.copies, cp.schema)
	}
	c.toClose = append(c.toClose, cp.server)
}

// closeCopies forgets the copies of p, which pgx closed, and closes them with the next stamp.
func (c *Conn) closeCopies(p *parsed) {
	for _, cp := range p.copies {
		c.closeCopy(cp)
	}
}

// appendCopyParse appends the Parse of cp: pgx's statement, under cp's name, with the parameter
// types that the server gave pgx's statement.
func appendCopyParse(dst []byte, cp *statementCopy) []byte {
	return encode(dst, &pgproto3.Parse{Name: cp.server, Query: cp.of.query, ParameterOIDs: *cp.of.oids.Load()})
}

// renameBind returns bind, a Bind of pgx's, renamed to the statement server.
func renameBind(dst, bind []byte, server string) []byte {
	portal := cstring(bind[5:])
	rest := cstringRest(bind[5+len(portal)+1:]) // what follows the statement's name
	n := 4 + len(portal) + 1 + len(server) + 1 + len(rest)
	dst = append(dst, 'B', byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	dst = append(append(dst, portal...), 0)
	dst = append(append(dst, server...), 0)
	return append(dst, rest...)
}
