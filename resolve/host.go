package resolve

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/pgschemas/pgschemas/internal/domainname"
)

// maxHostLen is the longest host name DNS allows, without the trailing dot.
const maxHostLen = 253

// hostBuf holds a normalized host on the caller's stack, so that a lookup allocates nothing.
type hostBuf [maxHostLen]byte

// normalizeHost writes the lookup form of an HTTP Host value into buf and returns it: the port and
// one trailing dot removed, ASCII lower case, and with stripWWW a leading "www." removed when a name
// follows it. An internationalized name sent in Unicode is brought to lower-case punycode, the
// form the engine stores (internal/domainname); browsers send punycode, which needs no change. An
// IPv6 literal keeps its brackets. A host that is empty, longer than 253 bytes, has an empty or
// over-long label, a byte other than an ASCII letter, digit, '-' or '_' (after the conversion of
// an internationalized name), or a port that is not decimal digits is an error that wraps
// ErrMalformedHost. ASCII hosts allocate nothing.
func normalizeHost(host string, stripWWW bool, buf *hostBuf) ([]byte, error) {
	name, why := splitPort(host)
	if why == "" {
		if name != "" && name[0] == '[' {
			why = checkIPv6(name)
		} else {
			name = strings.TrimSuffix(name, ".")
			if !isASCII(name) {
				if h, err := domainname.Host(name); err == nil {
					name = h
				}
			}
			why = checkName(name)
		}
	}
	if why != "" {
		return nil, fmt.Errorf("%w %.80q: %s", ErrMalformedHost, host, why)
	}
	b := buf[:len(name)]
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[i] = c
	}
	if stripWWW && len(b) > 4 && string(b[:4]) == "www." {
		b = b[4:]
	}
	return b, nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// splitPort returns host without its ":port", or why host is malformed.
func splitPort(host string) (string, string) {
	if host == "" {
		return "", "empty"
	}
	end := len(host)
	if host[0] == '[' {
		i := strings.IndexByte(host, ']')
		if i < 0 {
			return "", "unclosed IPv6 literal"
		}
		end = i + 1
		if end < len(host) && host[end] != ':' {
			return "", "junk after the IPv6 literal"
		}
	} else if i := strings.IndexByte(host, ':'); i >= 0 {
		end = i
	}
	if end < len(host) {
		for _, c := range []byte(host[end+1:]) {
			if c < '0' || c > '9' {
				return "", "the port is not a number"
			}
		}
	}
	return host[:end], ""
}

// checkName says what is wrong with a host name (port and trailing dot removed), or returns "".
func checkName(name string) string {
	if name == "" {
		return "empty"
	}
	if len(name) > maxHostLen {
		return fmt.Sprintf("%d bytes long, the limit is %d", len(name), maxHostLen)
	}
	label := 0 // length of the current label
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '.':
			if label == 0 {
				return "empty label"
			}
			label = 0
			continue
		case c == '-' || c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9':
		default:
			return fmt.Sprintf("byte %q at %d: a host holds ASCII letters, digits, '-', '_' and dots (IDNs in punycode)", c, i)
		}
		if label++; label > 63 {
			return "a label longer than 63 bytes"
		}
	}
	if label == 0 {
		return "empty label"
	}
	return ""
}

// checkIPv6 says what is wrong with "[literal]", or returns "".
func checkIPv6(name string) string {
	inner := name[1 : len(name)-1]
	if inner == "" || len(inner) > 45 {
		return "bad IPv6 literal"
	}
	for _, c := range []byte(inner) {
		if !(c == ':' || c == '.' || '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return "bad IPv6 literal"
		}
	}
	return ""
}

// splitFolder splits the first segment off an escaped URL path: "/shop/cart?x" style paths give
// folder "shop" (percent-decoded) and rest "/cart". A path with only the folder, "/shop" or
// "/shop/", gives rest "/". ok is false, and the path has no folder, when it does not start with
// "/", or its first segment is empty, "." or "..", badly escaped, or decodes to a string with a '/'
// (an escaped %2F never splits a folder). Folders match whole segments only: "/shopx" is folder
// "shopx", never "shop".
func splitFolder(path string) (folder, rest string, ok bool) {
	if len(path) < 2 || path[0] != '/' {
		return "", path, false
	}
	seg := path[1:]
	if i := strings.IndexByte(seg, '/'); i >= 0 {
		seg = seg[:i]
	}
	rest = path[1+len(seg):]
	if rest == "" {
		rest = "/"
	}
	folder = seg
	if strings.IndexByte(seg, '%') >= 0 {
		var err error
		if folder, err = url.PathUnescape(seg); err != nil || strings.IndexByte(folder, '/') >= 0 {
			return "", path, false
		}
	}
	if folder == "" || folder == "." || folder == ".." {
		return "", path, false
	}
	return folder, rest, true
}
