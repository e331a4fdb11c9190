package stamp

import (
	"net"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5/pgconn"
)

// Options says how a Conn stamps statements.
type Options struct {
	// Strict: every Set carries a role, and the prepared set sets it.
	Strict bool
	// Reparse: parse the set with each use, as an unnamed statement, since consecutive
	// transactions may run on different server sessions (a pooler in transaction mode), which
	// need not hold a prepared one, and should not be left holding one.
	Reparse bool
	// NoCancel: the connection never sends a cancel request. pgconn sends one to the address of
	// the net.Conn when it closes a connection whose context ended; RemoteAddr then names a
	// network that the dialer refuses (see NoCancelNetwork).
	NoCancel bool
	// MaxCopies: how many per-tenant copies of pgx's statements the connection holds at most
	// (copies.go); 0 means DefaultMaxCopies, a negative number none.
	MaxCopies int
}

// NoCancelNetwork is the network of RemoteAddr for a Conn with Options.NoCancel: a DialFunc that
// refuses it keeps pgconn from sending a cancel request to a pooler.
const NoCancelNetwork = "pgschemas-nocancel"

// Conn is a net.Conn that stamps the statements written to it with the current Set, and removes
// the responses to the stamps from what it reads. pgconn writes from one goroutine at a time and
// reads from one goroutine at a time, possibly another one; the two share only the queue of
// expected responses and a few atomics.
type Conn struct {
	net.Conn
	opts    Options
	reparse []byte

	armed atomic.Bool

	// The writer's state.
	cur     *Set
	needSet bool   // the next Parse, Bind, Describe or Close begins a statement
	off     bool   // Suspend: write as is
	passW   int    // bytes of the current message still to write as they come
	hold    []byte // the start of a message that a Write ended in
	wbuf    []byte // the output of a Write that adds stamps
	sbuf    []byte // a stamp or a stamped Query, copied to wbuf at once
	served  map[string]struct{}
	parses  map[string]*parsed // pgx's named statements, to prepare again after a DEALLOCATE
	bbuf    []byte             // a Bind renamed to a copy
	copySeq uint64             // the number of the last copy made
	ring    []*statementCopy   // the copies, oldest first, some of them closed
	live    int                // the copies not closed
	toClose []string           // copies to close with the next stamp
	verify  *statementCopy     // the copy that the current statement's stamp prepared

	mu     sync.Mutex
	units  []unit // the responses the reader waits for, oldest first: units[uhead:]
	uhead  int
	setErr *pgconn.PgError // the error of the last set that failed, until taken

	status   atomic.Uint32 // the transaction status of the last ReadyForQuery
	stale    atomic.Bool   // the server may not hold the prepared set
	deallocs atomic.Uint64 // how many DEALLOCATE or DISCARD commands the server ran

	rd reader
}

// Wrap returns a Conn over nc that writes and reads as is until Arm.
func Wrap(nc net.Conn, opts Options) *Conn {
	c := &Conn{Conn: nc, opts: opts, reparse: reparse(opts.Strict), served: map[string]struct{}{}, parses: map[string]*parsed{}}
	c.rd.c = c
	c.status.Store('I')
	c.stale.Store(true)
	return c
}

// Arm starts stamping, with the Set s. Call it once, when the connection is idle: after pgconn
// connected, before anything else is sent.
func (c *Conn) Arm(s *Set) {
	c.cur = s // not served: nothing ran for it yet
	c.needSet = true
	c.armed.Store(true)
}

// SetTenant makes s the Set of the statements written from now on. Call it from the goroutine
// that sends them, between operations.
func (c *Conn) SetTenant(s *Set) {
	if c.cur == s {
		return
	}
	c.cur = s
	if _, ok := c.served[s.schema]; !ok {
		c.served[s.schema] = struct{}{}
	}
}

// Forget takes s's schema off the schemas the connection has served, when its first statement
// failed.
func (c *Conn) Forget(s *Set) { delete(c.served, s.schema) }

// Served returns how many distinct schemas the connection has served.
func (c *Conn) Served() int { return len(c.served) }

// HasServed reports whether the connection has served schema (quoted, as in NewSet).
func (c *Conn) HasServed(schema string) bool {
	_, ok := c.served[schema]
	return ok
}

// Suspend turns stamping off (true) or on again (false), for statements that PostgreSQL refuses
// inside a transaction block: the caller sets the session's path itself.
func (c *Conn) Suspend(off bool) { c.off = off }

// TxStatus returns the transaction status of the last ReadyForQuery read: 'I', 'T' or 'E'.
func (c *Conn) TxStatus() byte { return byte(c.status.Load()) }

// TakeSetError returns, and forgets, the error of the last set that failed: the server's verdict
// on the Set (a missing schema, 3F000; a role that cannot be set). pgx reported the same error as
// the statement's, which did not run.
func (c *Conn) TakeSetError() *pgconn.PgError {
	c.mu.Lock()
	defer c.mu.Unlock()
	err := c.setErr
	c.setErr = nil
	return err
}

// parsed is a Parse message of pgx's, kept while the statement is prepared, and the count of
// DEALLOCATE or DISCARD commands when it was last sent; the schema whose Set it was prepared
// in, the parameter types the server gave it, and its copies for other schemas (copies.go).
type parsed struct {
	name   string
	msg    []byte
	gen    uint64
	query  string
	owner  string
	oids   atomic.Pointer[[]uint32] // set by the reader, from the ParameterDescription
	copies map[string]*statementCopy
	usedBy map[string]struct{} // the schemas that ran it once, without a copy
}

// RemoteAddr is the net.Conn's, but for Options.NoCancel (see NoCancelNetwork).
func (c *Conn) RemoteAddr() net.Addr {
	if c.opts.NoCancel {
		return noCancelAddr{}
	}
	return c.Conn.RemoteAddr()
}

type noCancelAddr struct{}

func (noCancelAddr) Network() string { return NoCancelNetwork }
func (noCancelAddr) String() string  { return "no cancel requests" }

// Read reads the server's messages, less the responses to the stamps.
func (c *Conn) Read(p []byte) (int, error) {
	if !c.armed.Load() && c.rd.empty() {
		return c.Conn.Read(p)
	}
	return c.rd.read(p)
}

// unitKind says which responses a unit is: the reader waits for each unit's last message.
type unitKind uint8

const (
	unitStamp      unitKind = iota // a stamp of the extended protocol: completions, a row, a command tag
	unitStampQuery                 // the stamp at the start of a Query: rows and tags of its statements
	unitExecute                    // an Execute of the caller's: ends with a tag, EmptyQuery, PortalSuspended or an error
	unitSync                       // a Sync: ends with ReadyForQuery
	unitQuery                      // a Query (or a FunctionCall): ends with ReadyForQuery
	unitDescribe                   // pgx's Describe of a named statement: ends with RowDescription or NoData
)

type unit struct {
	kind    unitKind
	tags    int  // unitStampQuery: the command tags still to drop
	shift   int  // unitQuery: the bytes the stamp added before the caller's text
	ran     bool // unitQuery: a statement of the caller's text answered (a tag, an error, EmptyQuery)
	reparse bool // unitStamp: it prepared the set again
	after   int  // unitStamp: completions (of a Close and a Parse) still to drop after its tag
	tagged  bool // unitStamp: its tag was read

	verify *statementCopy // unitExecute: the copy that its stamp prepared, usable once it ends well
	desc   *parsed        // unitDescribe: the statement whose parameter types it reads
}

func (c *Conn) push(u unit) {
	c.mu.Lock()
	c.units = append(c.units, u)
	c.mu.Unlock()
}
