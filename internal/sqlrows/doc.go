// Package sqlrows holds the one loop over the rows of a database/sql query that the apps and
// schemaset packages share: Each runs a query, hands each row to a function, closes the rows
// and reports the error that ended the iteration, which a hand-written loop tends to forget.
package sqlrows
