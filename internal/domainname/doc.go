// Package domainname is the one place that says what a tenant's domain may be: a host name, and
// an optional folder, the first segment of the URL path. The engine (schemaset) checks every
// domain it stores with it, the config checks static domains with it, the CLI checks its
// arguments with it, and the router (resolve) brings a request's internationalized host to the
// same form, so that what is stored is what routes.
//
// A host is a DNS name: labels of 1 to 63 ASCII letters, digits and inner hyphens, at most 253
// bytes in all, without a port, a scheme, a wildcard, control characters or spaces. One trailing
// dot (the absolute form) is dropped. An internationalized name ("bücher.example") is stored as
// lower-case punycode ("xn--bcher-kva.example"), as browsers send it, by golang.org/x/net/idna's
// lookup profile. A folder is one URL path segment of RFC 3986's unreserved characters (letters,
// digits, '-', '.', '_', '~'), neither "." nor "..", so that it never needs escaping and a
// request's path matches it byte for byte.
//
// Every refusal is an *Error, which wraps ErrInvalid and says which rule the input broke.
// The package is pure Go and allocation-free on ASCII input that needs no change.
package domainname
