package domainname_test

import (
	"fmt"

	"github.com/pgschemas/pgschemas/internal/domainname"
)

func ExampleParse() {
	host, folder, err := domainname.Parse("Bücher.Example.test/shop")
	fmt.Println(host, folder, err)
	_, _, err = domainname.Parse("*.example.test")
	fmt.Println(err)
	// Output:
	// xn--bcher-kva.example.test shop <nil>
	// invalid domain host "*.example.test": has the wildcard '*': a domain routes one host name; add each host
}
