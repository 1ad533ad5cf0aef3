package inmem

import (
	"encoding/binary"
	"maps"
	"slices"
	"strings"
)

// listTable interns the clients' string lists (scopes, audiences, auth
// methods, exchange audiences): most clients share theirs with many others, so a record holds
// a number and the decoded clients share one slice per distinct list
// (which is why Lookup's callers must not modify a client). The table only
// grows until the replica next loads everything; distinct lists are few.
type listTable struct {
	byKey map[string]uint32
	all   [][]string // 0 is nil, 1 the empty list
}

func newListTable() listTable {
	return listTable{byKey: map[string]uint32{}, all: [][]string{nil, {}}}
}

func (l *listTable) id(list []string) uint32 {
	switch {
	case list == nil:
		return 0
	case len(list) == 0:
		return 1
	}
	// Length-prefixed elements: unambiguous whatever the strings hold.
	var k []byte
	for _, s := range list {
		k = appendStr(k, s)
	}
	if id, ok := l.byKey[string(k)]; ok {
		return id
	}
	id := uint32(len(l.all))
	l.byKey[string(k)] = id
	l.all = append(l.all, slices.Clip(slices.Clone(list)))
	return id
}

// mapTable interns the clients' string maps (metadata, claim expressions)
// as listTable does their lists, so that a lookup of a client that has
// some does not build them anew — two allocations and a few hundred bytes
// each, on every token, for maps that clients made from one template share.
// Unlike lists, maps may well differ from one client to the next (metadata
// naming each one's owner): past maxInternedMaps distinct maps or
// maxInternedBytes of their text, a record holds its map's entries and
// each lookup decodes them, as before interning. Only grows until the
// replica next loads everything.
type mapTable struct {
	byKey map[string]uint32
	all   []map[string]string // 0 is nil, 1 the empty map
	bytes int
}

const (
	maxInternedMaps  = 4096
	maxInternedBytes = 1 << 20
)

func newMapTable() mapTable {
	return mapTable{byKey: map[string]uint32{}, all: []map[string]string{nil, {}}}
}

// append encodes m: a uvarint, odd for an interned map (its number in the
// high bits), even for one held in the record (its number of entries in the
// high bits, the entries following).
func (t *mapTable) append(e []byte, m map[string]string) []byte {
	if id, ok := t.id(m); ok {
		return binary.AppendUvarint(e, uint64(id)<<1|1)
	}
	e = binary.AppendUvarint(e, uint64(len(m))<<1)
	for k, v := range m {
		e = appendStr(e, k)
		e = appendStr(e, v)
	}
	return e
}

func (t *mapTable) decode(d *decoder) map[string]string {
	v := d.uvarint()
	if v&1 == 1 {
		return t.all[v>>1]
	}
	m := make(map[string]string, v>>1)
	for range v >> 1 {
		k := d.str()
		m[k] = d.str()
	}
	return m
}

// id returns m's number, interning it if there is room.
func (t *mapTable) id(m map[string]string) (uint32, bool) {
	switch {
	case m == nil:
		return 0, true
	case len(m) == 0:
		return 1, true
	}
	// Length-prefixed entries in key order: unambiguous whatever the
	// strings hold.
	var k []byte
	for _, name := range slices.Sorted(maps.Keys(m)) {
		k = appendStr(appendStr(k, name), m[name])
	}
	if id, ok := t.byKey[string(k)]; ok {
		return id, true
	}
	if len(t.all) >= maxInternedMaps || t.bytes+len(k) > maxInternedBytes {
		return 0, false
	}
	// Copies of the strings: the map outlives the client it came from.
	own := make(map[string]string, len(m))
	for name, v := range m {
		own[strings.Clone(name)] = strings.Clone(v)
	}
	id := uint32(len(t.all))
	t.byKey[string(k)] = id
	t.all = append(t.all, own)
	t.bytes += len(k)
	return id, true
}
