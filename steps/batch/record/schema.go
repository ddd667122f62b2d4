package record

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// Field is a named, typed column. Kind Null means "any": the value keeps
// whatever kind it has.
type Field struct {
	Name string
	Kind Kind
}

// Schema is the ordered list of a record's fields. Readers make one and
// share it with every record they produce; it must not change afterwards.
type Schema struct {
	Fields []Field
	index  map[string]int
}

// NewSchema makes a schema. Field names must be unique.
func NewSchema(fields ...Field) (*Schema, error) {
	s := &Schema{Fields: fields, index: make(map[string]int, len(fields))}
	for i, f := range fields {
		if _, dup := s.index[f.Name]; dup {
			return nil, fmt.Errorf("duplicate field %q", f.Name)
		}
		s.index[f.Name] = i
	}
	return s, nil
}

// Names makes an untyped schema from names.
func Names(names ...string) (*Schema, error) {
	fs := make([]Field, len(names))
	for i, n := range names {
		fs[i] = Field{Name: n}
	}
	return NewSchema(fs...)
}

// Index returns the position of a field.
func (s *Schema) Index(name string) (int, bool) {
	i, ok := s.index[name]
	return i, ok
}

// Len is the number of fields.
func (s *Schema) Len() int { return len(s.Fields) }

// Names returns the field names in order.
func (s *Schema) Names() []string {
	out := make([]string, len(s.Fields))
	for i, f := range s.Fields {
		out[i] = f.Name
	}
	return out
}

// Record is one item: values in the order of its schema, and where it came
// from.
type Record struct {
	Schema *Schema
	Values []Value
	// Source is where the record was read (file name), Line its line (or
	// record number for binary files) and Offset its byte offset; zero
	// when unknown.
	Source string
	Line   int64
	Offset int64
}

// New makes an empty record of a schema (all fields null).
func New(s *Schema) *Record { return &Record{Schema: s, Values: make([]Value, s.Len())} }

// Get returns a field's value (null, false when there is no such field).
func (r *Record) Get(name string) (Value, bool) {
	i, ok := r.Schema.index[name]
	if !ok {
		return Value{}, false
	}
	return r.Values[i], true
}

// Set sets a field of the record's schema; it is an error to set a field
// the schema does not have (build the record from a schema that has it).
func (r *Record) Set(name string, v Value) error {
	i, ok := r.Schema.index[name]
	if !ok {
		return fmt.Errorf("no field %q in the record (fields: %s)", name, strings.Join(r.Schema.Names(), ", "))
	}
	r.Values[i] = v
	return nil
}

// Where returns the record's position as file:line (or "record N").
func (r *Record) Where() string {
	switch {
	case r.Source != "" && r.Line > 0:
		return r.Source + ":" + strconv.FormatInt(r.Line, 10)
	case r.Source != "":
		return r.Source + "@" + strconv.FormatInt(r.Offset, 10)
	case r.Line > 0:
		return "record " + strconv.FormatInt(r.Line, 10)
	}
	return ""
}

// Equal reports whether two records have the same field names and values.
func (r *Record) Equal(o *Record) bool {
	if r == nil || o == nil {
		return r == o
	}
	if len(r.Values) != len(o.Values) {
		return false
	}
	for i, f := range r.Schema.Fields {
		if o.Schema.Fields[i].Name != f.Name || !r.Values[i].Equal(o.Values[i]) {
			return false
		}
	}
	return true
}

// Schemas caches schemas by their field names, for producers that build
// records from names they see per item (JSON objects, JS results).
type Schemas struct {
	mu sync.Mutex
	m  map[string]*Schema
}

// Get returns the untyped schema of these names, made once.
func (c *Schemas) Get(names []string) (*Schema, error) {
	// Each name with its length: joined with a separator, ["a\x00b"] and
	// ["a", "b"], or [] and [""], would share a schema.
	var kb strings.Builder
	for _, n := range names {
		kb.WriteString(strconv.Itoa(len(n)))
		kb.WriteByte(':')
		kb.WriteString(n)
	}
	key := kb.String()
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.m[key]; ok {
		return s, nil
	}
	s, err := Names(names...)
	if err != nil {
		return nil, err
	}
	if c.m == nil {
		c.m = map[string]*Schema{}
	}
	c.m[key] = s
	return s, nil
}
