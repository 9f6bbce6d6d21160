package storehttp

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"sync"
)

// streamDepth is how many levels of arrays DecodeJSON reads element by
// element: a store's answer is an envelope around a list (traces, streams,
// series) of items that hold a list (spans, log lines, samples); the items
// of that inner list are small and are decoded whole.
const streamDepth = 2

// DecodeJSON decodes the JSON value r holds into out (a non-nil pointer) as
// it reads, as json.Unmarshal would decode the whole body, so that what is
// held at any time is the decoded value and one small piece of the body.
//
// json.Decoder alone is not enough: its Decode buffers the whole next value,
// and a store's answer is one value. So objects decoded into structs are
// walked key by key and arrays decoded into slices element by element (down
// to streamDepth levels of arrays); everything else, and whatever implements
// json.Unmarshaler, is decoded whole with Decode. Keys match struct fields
// as json.Unmarshal matches them (the json tag's name, else the field's;
// exactly, else case-insensitively); unknown keys are skipped. Like
// json.Unmarshal, nothing but space may follow the value.
//
// onKey, when set, is called with each key of the top-level object, for
// adapters that tell their store's API by the keys it sends.
func DecodeJSON(r io.Reader, out any, onKey func(string)) error {
	v := reflect.ValueOf(out)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return fmt.Errorf("decoding into %T, not a non-nil pointer", out)
	}
	s := jsonStream{dec: json.NewDecoder(r), onKey: onKey}
	if err := s.value(v.Elem(), 0, true); err != nil {
		if err == io.EOF {
			return errors.New("unexpected end of JSON input")
		}
		return err
	}
	switch _, err := s.dec.Token(); err {
	case io.EOF:
		return nil
	case nil:
		return errors.New("invalid data after top-level value")
	default:
		return err
	}
}

type jsonStream struct {
	dec   *json.Decoder
	onKey func(string)
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// walked says whether a value of type t is read token by token: a struct
// whose fields are plain, or a slice other than bytes; neither decodes
// itself.
func walked(t reflect.Type) bool {
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return false
	}
	switch t.Kind() {
	case reflect.Struct:
		return fieldsOf(t) != nil
	case reflect.Slice:
		return t.Elem().Kind() != reflect.Uint8
	}
	return false
}

func (s *jsonStream) value(v reflect.Value, depth int, top bool) error {
	if depth >= streamDepth || !walked(v.Type()) {
		return s.dec.Decode(v.Addr().Interface())
	}
	tok, err := s.dec.Token()
	if err != nil {
		return err
	}
	if tok == nil {
		// null, as json.Unmarshal has it: a slice becomes nil, a struct
		// stays as it is.
		if v.Kind() == reflect.Slice {
			v.SetZero()
		}
		return nil
	}
	if v.Kind() == reflect.Struct {
		if tok != json.Delim('{') {
			return typeError(tok, v.Type())
		}
		fields := fieldsOf(v.Type())
		for s.dec.More() {
			tok, err := s.dec.Token()
			if err != nil {
				return err
			}
			key, _ := tok.(string) // the decoder only returns a string here
			if top && s.onKey != nil {
				s.onKey(key)
			}
			i, ok := fields.lookup(key)
			if !ok {
				var skip json.RawMessage
				if err := s.dec.Decode(&skip); err != nil {
					return err
				}
				continue
			}
			if err := s.value(v.Field(i), depth, false); err != nil {
				return err
			}
		}
		_, err := s.dec.Token() // '}'
		return err
	}
	if tok != json.Delim('[') {
		return typeError(tok, v.Type())
	}
	// As json.Unmarshal: the slice's elements are replaced, and an empty
	// array is an empty slice, not nil.
	v.Set(reflect.MakeSlice(v.Type(), 0, 0))
	zero := reflect.Zero(v.Type().Elem())
	for s.dec.More() {
		v.Set(reflect.Append(v, zero))
		if err := s.value(v.Index(v.Len()-1), depth+1, false); err != nil {
			return err
		}
	}
	_, err = s.dec.Token() // ']'
	return err
}

func typeError(tok json.Token, t reflect.Type) error {
	what := "value"
	switch tok.(type) {
	case json.Delim:
		what = map[json.Delim]string{'{': "object", '[': "array"}[tok.(json.Delim)]
	case string:
		what = "string"
	case float64, json.Number:
		what = "number"
	case bool:
		what = "bool"
	}
	return &json.UnmarshalTypeError{Value: what, Type: t}
}

// structFields maps a struct's JSON keys to its field indexes.
type structFields struct {
	exact map[string]int
	names []string // by field index; "" for fields JSON does not see
}

func (f *structFields) lookup(key string) (int, bool) {
	if i, ok := f.exact[key]; ok {
		return i, true
	}
	for i, n := range f.names {
		if n != "" && strings.EqualFold(n, key) {
			return i, true
		}
	}
	return 0, false
}

var fieldCache sync.Map // reflect.Type -> *structFields (nil: decoded whole)

// fieldsOf is how JSON sees a struct's fields, or nil when the struct uses
// what DecodeJSON leaves to encoding/json (embedded fields, tag options
// other than omitempty), so that it is decoded whole.
func fieldsOf(t reflect.Type) *structFields {
	if f, ok := fieldCache.Load(t); ok {
		return f.(*structFields)
	}
	f := &structFields{exact: map[string]int{}, names: make([]string, t.NumField())}
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if sf.Anonymous {
			f = nil
			break
		}
		if !sf.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if name == "-" && opts == "" {
			continue
		}
		if opts != "" && opts != "omitempty" {
			f = nil
			break
		}
		if name == "" {
			name = sf.Name
		}
		if _, dup := f.exact[name]; dup {
			f = nil // encoding/json's rules for duplicate names apply
			break
		}
		f.exact[name], f.names[i] = i, name
	}
	fieldCache.Store(t, f)
	return f
}
