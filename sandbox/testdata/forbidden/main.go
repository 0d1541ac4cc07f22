// Command forbidden is a test guest that reads a file: it imports WASI's
// path_open, which no library's limits allow, so loading it must fail.
package main

import (
	"os"

	"github.com/inos-node/node/guests/sdk"
)

func init() {
	sdk.Serve(sdk.Methods{"read": func(c *sdk.Call) (int, error) {
		b, err := os.ReadFile("/etc/passwd")
		if err != nil {
			return 0, err
		}
		return copy(c.Output, b), nil
	}})
}

func main() {}
