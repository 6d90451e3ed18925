// Package spec holds loop.yaml, the spec of the loop variants, and no code:
// only the go:generate lines that regenerate generated/ from it, then the
// bench's drivers (bench/drive_*_gen.go) from generated/all.
//
// They sit here, not in package loop, because `go generate ./...` lists
// every package before it runs any line and then reads each listed
// package's files: a variant removed from the spec takes its package out of
// generated/, and when loopgen ran from the module root, the first package
// listed, go generate went on to the removed package and failed reading its
// files. Package spec is listed after every package under generated/.
package spec

//go:generate go run ../cmd/loopgen -spec loop.yaml -out ../generated
//go:generate go run ../bench/internal/drivegen -dir ../bench
