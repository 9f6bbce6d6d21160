package frames

import (
	"unsafe"

	"github.com/grafana/grafana-plugin-sdk-go/data"
)

// column makes a field of n zero values and returns its storage to fill in
// place. data.NewField copies the slice it is given; a frame of 10⁵ rows
// and a dozen columns would hold every column twice while it is built. The
// SDK keeps a field's values in one slice whose first element PointerAt(0)
// returns (pinned by TestColumnFillsTheField); the type assertion fails
// loudly if T is not the field type's element type.
func column[T any](name string, ft data.FieldType, n int) (*data.Field, []T) {
	f := data.NewFieldFromFieldType(ft, n)
	f.Name = name
	if n == 0 {
		return f, nil
	}
	return f, unsafe.Slice(f.PointerAt(0).(*T), n)
}
