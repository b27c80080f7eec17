// Command tiny links one module beside the standard library, for the SBOM test to find.
package main

import (
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
)

func main() {
	tag, err := name.NewTag("opdomain/manager:test")
	fmt.Println(tag, err)
}
