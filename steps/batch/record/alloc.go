package record

// allocBlock is how many records an Alloc makes per allocation.
const allocBlock = 128

// Alloc makes records in blocks: one allocation for the records and one for
// their values per block instead of two per record, which is most of the
// cost of a processor that emits new records at millions per second. A
// record stays valid as long as the program keeps it (a block is freed
// when none of its records is referenced). An Alloc is not safe for
// concurrent use: the batch engine gives each worker its own
// (batch.Chunk.Alloc). The zero Alloc is ready to use.
type Alloc struct {
	recs []Record
	vals []Value
}

// New makes an empty record of s (all fields null), as New does.
func (a *Alloc) New(s *Schema) *Record {
	n := s.Len()
	if n > allocBlock {
		return New(s)
	}
	if len(a.recs) == 0 {
		a.recs = make([]Record, allocBlock)
	}
	if len(a.vals) < n {
		a.vals = make([]Value, allocBlock*max(n, 4))
	}
	r := &a.recs[0]
	a.recs = a.recs[1:]
	r.Schema, r.Values = s, a.vals[:n:n]
	a.vals = a.vals[n:]
	return r
}
