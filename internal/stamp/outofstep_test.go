package stamp_test

import (
	"errors"
	"net"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/pgschemas/pgschemas/internal/stamp"
)

// A reply is what the fake server sends, after reading a Query when query is true.
type reply struct {
	query bool
	msgs  []pgproto3.BackendMessage
}

// fakeServer serves replies on its end of a pipe, then closes it, and returns the stamped client end, armed with
// setA. PostgreSQL never answers what nobody asked: only a fake server can, which is the point.
func fakeServer(t *testing.T, replies ...reply) *stamp.Conn {
	t.Helper()
	client, server := net.Pipe()
	t.Cleanup(func() { client.Close(); server.Close() })
	go func() {
		be := pgproto3.NewBackend(server, server)
		for _, r := range replies {
			if r.query {
				if _, err := be.Receive(); err != nil {
					return
				}
			}
			for _, m := range r.msgs {
				be.Send(m)
			}
			if be.Flush() != nil {
				return
			}
		}
		server.Close() // then reads end with io.EOF, unless the stamp failed them first
	}()
	sc := stamp.Wrap(client, stamp.Options{})
	sc.Arm(setA)
	return sc
}

func tag(s string) *pgproto3.CommandComplete { return &pgproto3.CommandComplete{CommandTag: []byte(s)} }

// readAll reads from sc until an error, and returns what it read and the error.
func readAll(sc *stamp.Conn) ([]byte, error) {
	var got []byte
	buf := make([]byte, 64)
	for {
		n, err := sc.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			return got, err
		}
	}
}

// TestAnswersOutOfStepCloseTheConnection: a ReadyForQuery that no Sync or Query waits for, or a
// statement's message with nothing waiting, leaves the stamp unable to tell which statement the
// answers that follow belong to: every read fails with ErrOutOfStep, after the answers that came
// in step, rather than hand one operation another one's rows. Messages that may come unasked
// (ParameterStatus, a notice, a FATAL error) pass.
func TestAnswersOutOfStepCloseTheConnection(t *testing.T) {
	ready := &pgproto3.ReadyForQuery{TxStatus: 'I'}
	row := []pgproto3.BackendMessage{
		&pgproto3.RowDescription{Fields: []pgproto3.FieldDescription{{Name: []byte("v"), DataTypeOID: 25, DataTypeSize: -1, TypeModifier: -1}}},
		&pgproto3.DataRow{Values: [][]byte{[]byte("a")}},
		tag("SELECT 1"),
	}
	unasked := []pgproto3.BackendMessage{
		&pgproto3.ParameterStatus{Name: "application_name", Value: "x"},
		&pgproto3.NoticeResponse{Severity: "NOTICE", Message: "unasked"},
		&pgproto3.ErrorResponse{Severity: "FATAL", Code: "57P01", Message: "terminating connection"},
	}
	encode := func(msgs ...pgproto3.BackendMessage) []byte {
		var b []byte
		for _, m := range msgs {
			var err error
			if b, err = m.Encode(b); err != nil {
				t.Fatal(err)
			}
		}
		return b
	}

	t.Run("unasked messages pass", func(t *testing.T) {
		sc := fakeServer(t, reply{msgs: unasked})
		buf := make([]byte, 1024)
		want := encode(unasked...)
		var got []byte
		for len(got) < len(want) {
			n, err := sc.Read(buf)
			if err != nil {
				t.Fatalf("after %d bytes: %v", len(got), err)
			}
			got = append(got, buf[:n]...)
		}
		if string(got) != string(want) {
			t.Errorf("read %q, want %q", got, want)
		}
	})

	for _, tc := range []struct {
		name string
		msgs []pgproto3.BackendMessage
	}{
		{"ReadyForQuery", []pgproto3.BackendMessage{ready}},
		{"RowDescription", row[:1]},
		{"CommandComplete", row[2:]},
	} {
		t.Run("unasked "+tc.name, func(t *testing.T) {
			sc := fakeServer(t, reply{msgs: tc.msgs})
			got, err := readAll(sc)
			if !errors.Is(err, stamp.ErrOutOfStep) || len(got) != 0 {
				t.Fatalf("read %q, %v; want nothing and ErrOutOfStep", got, err)
			}
			if _, err := sc.Read(make([]byte, 8)); !errors.Is(err, stamp.ErrOutOfStep) {
				t.Errorf("the next read: %v, want ErrOutOfStep again", err)
			}
		})
	}

	t.Run("an extra ReadyForQuery after a Query's answers", func(t *testing.T) {
		// The stamp of an idle connection adds three statements (the check, COMMIT, SET LOCAL) in
		// front of the caller's SELECT; the server answers each, then the SELECT, then once more.
		stampAnswers := append(append([]pgproto3.BackendMessage{}, row...), tag("COMMIT"), tag("SET"))
		sc := fakeServer(t, reply{query: true, msgs: append(append(stampAnswers, row...), ready, ready)})
		q, err := (&pgproto3.Query{String: "SELECT v FROM t"}).Encode(nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sc.Write(q); err != nil {
			t.Fatal(err)
		}
		got, err := readAll(sc)
		if want := encode(append(append([]pgproto3.BackendMessage{}, row...), ready)...); string(got) != string(want) {
			t.Errorf("read %q, want the SELECT's answers %q", got, want)
		}
		if !errors.Is(err, stamp.ErrOutOfStep) {
			t.Errorf("after the answers: %v, want ErrOutOfStep", err)
		}
	})
}
