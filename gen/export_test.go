package gen

import "os"

// FailOldTreeRemoval makes WriteTree's removal of the old tree fail with err
// until the returned func restores it.
func FailOldTreeRemoval(err error) (restore func()) {
	removeOldTree = func(string) error { return err }
	return func() { removeOldTree = os.RemoveAll }
}

// ShippedSpec is shippedSpec, the copy of the shipped spec that the tests
// read, for the golden test.
const ShippedSpec = shippedSpec
