// Package readme holds no code: its test keeps README.md honest. Each ```go block of the README
// must stand, line for line (indentation and runs of spaces aside), in the body of an Example
// function of the repository, where it compiles and, with an Output comment, runs against the
// database. Its imports, when the block shows them, must be the imports of that Example's file.
// So a snippet that no longer compiles, or that drifts from its Example, fails the tests.
package readme
