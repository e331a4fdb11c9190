package apps

import (
	"strings"
	"unicode/utf8"

	"ariga.io/atlas/sql/migrate"
)

// scanner splits PostgreSQL text into statements, as Atlas' postgres driver does (dollar quotes,
// BEGIN ATOMIC bodies, E'' strings).
var scanner = &migrate.Scanner{ScannerOptions: migrate.ScannerOptions{
	MatchBegin:       true,
	MatchBeginAtomic: true,
	MatchDollarQuote: true,
	EscapedStringExt: true,
}}

// txControl lists the first words of statements that would end or split the caller's
// transaction. Materialize runs inside a transaction that is always rolled back; a COMMIT in an
// app would make its scratch objects permanent.
var txControl = map[string]bool{
	"BEGIN": true, "START": true, "COMMIT": true, "END": true, "ROLLBACK": true, "ABORT": true,
	"SAVEPOINT": true, "RELEASE": true, "PREPARE": true,
}

// statements splits text into statements and rejects transaction control. When the text does not
// scan (an unterminated quote, say), it returns the whole text as one statement, so that the
// server reports the error with its position.
func statements(app, file, text string) ([]*migrate.Stmt, error) {
	stmts, err := scanner.Scan(text)
	if err != nil {
		return []*migrate.Stmt{{Pos: 0, Text: text}}, nil
	}
	for _, s := range stmts {
		word, _, _ := strings.Cut(strings.TrimSpace(s.Text), " ")
		word = strings.ToUpper(strings.TrimRight(word, ";\n\t\r"))
		// PREPARE name AS ... is a prepared statement; only PREPARE TRANSACTION controls the transaction.
		if word == "PREPARE" && !strings.Contains(strings.ToUpper(s.Text), "TRANSACTION") {
			continue
		}
		if txControl[word] {
			return nil, invalid(app, file, lineAt(text, s.Pos), "%s: the engine owns the transaction; an app may not control it", word)
		}
	}
	return stmts, nil
}

// lineAt returns the 1-based line of the byte offset off in text.
func lineAt(text string, off int) int {
	off = min(max(off, 0), len(text))
	return 1 + strings.Count(text[:off], "\n")
}

// charOffset converts a 1-based character position, as PostgreSQL reports it in an error, into
// a byte offset of text. PostgreSQL counts characters, not bytes.
func charOffset(text string, pos int) int {
	off := 0
	for i := 1; i < pos && off < len(text); i++ {
		_, n := utf8.DecodeRuneInString(text[off:])
		off += n
	}
	return off
}
