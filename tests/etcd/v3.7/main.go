// The etcd server as a test peer: the same entry point as etcd's own
// server/main.go, built from etcd's published modules at the version go.mod
// pins.  Go builds only the test peers; lifeboat itself has no Go in it.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
