package inmem

import (
	"encoding/binary"
	"hash/maphash"
	"time"
	"unsafe"

	"github.com/gooclaim/auth"
)

// table holds the replica's clients in memory the garbage collector does
// not scan. With a million clients held as *auth.Client values (a struct,
// its strings and lists: several heap objects each), every collection of
// the server marked half a gigabyte of pointers, and the token rate paid for
// it: about a third more CPU per token than with a thousand clients. Here
// each client is one encoded record appended to large byte chunks, and the
// index maps a hash of the client ID to the record's position. Byte slices
// and maps of integers hold no pointers, so a collection skips them
// whatever their size; the cost moves to Lookup, which decodes the record
// into a new *auth.Client (one allocation, the strings pointing into the
// chunk rather than copied, the lists and most maps interned: listTable,
// mapTable).
//
// Go has no container that does this (a map keyed by string is scanned in
// full), hence the hand-written layout.
//
// A record is never changed once written: an update appends a new one and
// the old one becomes dead bytes, reclaimed when the replica next loads
// everything (Replica.Sync does so early when dead bytes outweigh live ones).
// That immutability is what lets decoded strings point into the chunks. A
// table is guarded by the Replica's mutex.
type table struct {
	seed maphash.Seed
	hash func(maphash.Seed, string) uint64 // maphash.String; tests make IDs collide

	index map[uint64]ref // hash of the client ID → its record
	// spill holds the clients whose ID hashes like another held client's.
	// With a random per-process seed and 64-bit hashes it is almost always
	// empty, but it keeps Lookup exact rather than probably right.
	spill map[string]ref

	chunks     [][]byte
	live, dead int // bytes of records in use and of records replaced or deleted

	lists listTable
	maps  mapTable
}

// ref locates a record: chunk number in the high 32 bits, offset in the low.
type ref uint64

// chunkSize is the size of a chunk of records once the table has a few;
// the first ones are smaller, so that a small registry does not hold a
// mostly empty megabyte. A record bigger than a chunk (a client with a
// large inline JWK Set) gets a chunk of its own.
const chunkSize = 1 << 20

func newTable(sizeHint int) *table {
	return &table{
		seed:  maphash.MakeSeed(),
		hash:  maphash.String,
		index: make(map[uint64]ref, sizeHint),
		spill: map[string]ref{},
		lists: newListTable(),
		maps:  newMapTable(),
	}
}

// len returns the number of clients held.
func (t *table) len() int { return len(t.index) + len(t.spill) }

// find returns the record of the client with the given ID.
func (t *table) find(id string) (ref, bool) {
	if r, ok := t.index[t.hash(t.seed, id)]; ok && t.idAt(r) == id {
		return r, true
	}
	if len(t.spill) == 0 {
		return 0, false
	}
	r, ok := t.spill[id]
	return r, ok
}

// get decodes the client with the given ID, nil if none.
func (t *table) get(id string) *auth.Client {
	r, ok := t.find(id)
	if !ok {
		return nil
	}
	return t.decode(r)
}

// put adds c, or replaces the client with its ID. An ID is held in exactly
// one of index and spill.
func (t *table) put(c *auth.Client) {
	r := t.append(t.encode(c))
	if old, ok := t.spill[c.ID]; ok {
		t.drop(old)
		t.spill[c.ID] = r
		return
	}
	h := t.hash(t.seed, c.ID)
	old, ok := t.index[h]
	switch {
	case !ok:
		t.index[h] = r
	case t.idAt(old) == c.ID:
		t.drop(old)
		t.index[h] = r
	default: // another client's ID has the same hash
		t.spill[c.ID] = r
	}
}

// delete removes the client with the given ID, if held.
func (t *table) delete(id string) {
	if old, ok := t.spill[id]; ok {
		t.drop(old)
		delete(t.spill, id)
		return
	}
	h := t.hash(t.seed, id)
	if old, ok := t.index[h]; ok && t.idAt(old) == id {
		t.drop(old)
		delete(t.index, h)
	}
}

// wasteful reports whether dead records take more room than live ones
// (and enough of it to be worth a reload).
func (t *table) wasteful() bool { return t.dead > t.live && t.dead > 16*chunkSize }

func (t *table) drop(r ref) {
	n := len(t.record(r))
	t.live -= n
	t.dead += n
}

// append stores a record and returns where.
func (t *table) append(rec []byte) ref {
	t.live += len(rec)
	last := len(t.chunks) - 1
	if last < 0 || cap(t.chunks[last])-len(t.chunks[last]) < len(rec) {
		size := chunkSize
		if len(t.chunks) < 8 {
			size = 4096 << len(t.chunks)
		}
		t.chunks = append(t.chunks, make([]byte, 0, max(size, len(rec))))
		last++
	}
	off := len(t.chunks[last])
	// Within capacity: the bytes already in the chunk, which decoded
	// strings may point at, are not moved or touched.
	t.chunks[last] = append(t.chunks[last], rec...)
	return ref(uint64(last)<<32 | uint64(off))
}

// record returns the bytes of the record at r, its length prefix included.
func (t *table) record(r ref) []byte {
	b := t.chunks[r>>32][uint32(r):]
	n, w := binary.Uvarint(b)
	return b[:w+int(n)]
}

// body returns a decoder at the start of the body of the record at r.
func (t *table) body(r ref) decoder {
	b := t.record(r)
	_, w := binary.Uvarint(b)
	return decoder{b: b, p: w}
}

// idAt returns the client ID of the record at r, the first field of its body.
func (t *table) idAt(r ref) string {
	d := t.body(r)
	return d.str()
}

// The record: uvarint length of the body, then the body's fields in the
// order below. Strings and byte slices are a uvarint length and the bytes
// (byte slices: length+1, 0 meaning nil); lists are an index into the list
// table; maps an index into the map table or their entries
// (mapTable.append); times a kind byte (0 zero, 1 UTC, 2 local) then Unix
// seconds and nanoseconds.

func (t *table) encode(c *auth.Client) []byte {
	e := make([]byte, 0, 128+len(c.JWKS))
	e = appendStr(e, c.ID)
	e = appendStr(e, c.Name)
	e = binary.AppendUvarint(e, uint64(t.lists.id(c.Scopes)))
	e = binary.AppendUvarint(e, uint64(t.lists.id(c.Audiences)))
	e = binary.AppendVarint(e, int64(c.TokenTTL))
	e = binary.AppendVarint(e, int64(c.RateLimit.Limit))
	e = binary.AppendVarint(e, int64(c.RateLimit.Window))
	e = appendBool(e, c.Disabled)
	e = appendLen(e, len(c.Secrets), c.Secrets == nil)
	for _, s := range c.Secrets {
		e = appendStr(e, s.ID)
		e = appendStr(e, s.Hash)
		e = appendTime(e, s.CreatedAt)
		e = appendTime(e, s.ExpiresAt)
	}
	e = binary.AppendUvarint(e, uint64(t.lists.id(c.AuthMethods)))
	e = appendLen(e, len(c.JWKS), c.JWKS == nil)
	e = append(e, c.JWKS...)
	e = appendStr(e, c.JWKSURI)
	e = t.maps.append(e, c.Metadata)
	e = appendTime(e, c.TokensRevokedBefore)
	e = appendTime(e, c.CreatedAt)
	e = appendTime(e, c.UpdatedAt)
	e = appendStr(e, c.Incarnation)
	// Last, so that a client with neither costs two bytes: list 0 and nil.
	e = binary.AppendUvarint(e, uint64(t.lists.id(c.ExchangeAudiences)))
	e = appendLen(e, len(c.Federated), c.Federated == nil)
	for _, f := range c.Federated {
		e = appendStr(e, f.Issuer)
		e = appendStr(e, f.Subject)
	}
	// Sender-constrained tokens, declarative configuration and quotas: a
	// flags byte, then the five tls_client_auth strings, ManagedBy and the
	// quotas only when set, so that a client with none costs one byte (a million of them are
	// loaded).
	var flags byte
	if c.RequireDPoP {
		flags |= flagRequireDPoP
	}
	if c.RequireCertificateBoundTokens {
		flags |= flagRequireCertBound
	}
	if !c.TLSClientAuth.IsZero() {
		flags |= flagTLSClientAuth
	}
	switch c.ManagedBy {
	case "":
	case auth.ManagedByApply:
		flags |= flagManagedByApply // no string: decoding it allocates none
	default:
		flags |= flagManagedBy
	}
	if len(c.Quotas) > 0 {
		flags |= flagQuotas
	}
	if c.QuotaMode == auth.QuotaWarn {
		flags |= flagQuotaWarn
	}
	if len(c.Claims) > 0 || c.Condition != "" {
		flags |= flagExpressions
	}
	e = append(e, flags)
	if flags&flagTLSClientAuth != 0 {
		a := &c.TLSClientAuth
		e = appendStr(e, a.SubjectDN)
		e = appendStr(e, a.SANDNS)
		e = appendStr(e, a.SANURI)
		e = appendStr(e, a.SANIP)
		e = appendStr(e, a.SANEmail)
	}
	if flags&flagManagedBy != 0 {
		e = appendStr(e, c.ManagedBy)
	}
	if flags&flagQuotas != 0 {
		e = binary.AppendUvarint(e, uint64(len(c.Quotas)))
		for _, q := range c.Quotas {
			e = binary.AppendVarint(e, int64(q.Limit))
			e = binary.AppendVarint(e, int64(q.Window))
		}
	}
	if flags&flagExpressions != 0 {
		claims := c.Claims
		if len(claims) == 0 {
			claims = nil // as before interning: no claims decode as nil
		}
		e = t.maps.append(e, claims)
		e = appendStr(e, c.Condition)
	}
	// The first flags byte is full: later settings take a second one, at
	// the end of the record and only when one of its bits is set, so that
	// a client with none of them costs nothing more (the record's length
	// says whether it is there).
	var more byte
	switch c.TokenReuse {
	case auth.ReuseOn:
		more |= flagReuseOn
	case auth.ReuseOff:
		more |= flagReuseOff
	}
	if more != 0 {
		e = append(e, more)
	}
	rec := binary.AppendUvarint(make([]byte, 0, len(e)+binary.MaxVarintLen32), uint64(len(e)))
	return append(rec, e...)
}

// decoded is a client and room for its secrets in one allocation: a
// client has at most two live secrets, one during a rotation's grace.
type decoded struct {
	c       auth.Client
	secrets [2]auth.Secret
}

func (t *table) decode(r ref) *auth.Client {
	d := t.body(r)
	out := new(decoded)
	c := &out.c
	c.ID = d.str()
	c.Name = d.str()
	c.Scopes = t.lists.all[d.uvarint()]
	c.Audiences = t.lists.all[d.uvarint()]
	c.TokenTTL = time.Duration(d.varint())
	c.RateLimit.Limit = int(d.varint())
	c.RateLimit.Window = time.Duration(d.varint())
	c.Disabled = d.bool()
	if n, isNil := d.len(); !isNil {
		if n <= len(out.secrets) {
			c.Secrets = out.secrets[:n:n]
		} else {
			c.Secrets = make([]auth.Secret, n)
		}
		for i := range c.Secrets {
			s := &c.Secrets[i]
			s.ID, s.Hash = d.str(), d.str()
			s.CreatedAt, s.ExpiresAt = d.time(), d.time()
		}
	}
	c.AuthMethods = t.lists.all[d.uvarint()]
	if n, isNil := d.len(); !isNil {
		c.JWKS = d.b[d.p : d.p+n : d.p+n] // capped: an append cannot write into the chunk
		d.p += n
	}
	c.JWKSURI = d.str()
	c.Metadata = t.maps.decode(&d)
	c.TokensRevokedBefore = d.time()
	c.CreatedAt = d.time()
	c.UpdatedAt = d.time()
	c.Incarnation = d.str()
	c.ExchangeAudiences = t.lists.all[d.uvarint()]
	if n, isNil := d.len(); !isNil {
		c.Federated = make([]auth.FederatedIdentity, n)
		for i := range c.Federated {
			c.Federated[i].Issuer, c.Federated[i].Subject = d.str(), d.str()
		}
	}
	flags := d.b[d.p]
	d.p++
	c.RequireDPoP = flags&flagRequireDPoP != 0
	c.RequireCertificateBoundTokens = flags&flagRequireCertBound != 0
	if flags&flagTLSClientAuth != 0 {
		a := &c.TLSClientAuth
		a.SubjectDN, a.SANDNS, a.SANURI, a.SANIP, a.SANEmail = d.str(), d.str(), d.str(), d.str(), d.str()
	}
	switch {
	case flags&flagManagedByApply != 0:
		c.ManagedBy = auth.ManagedByApply
	case flags&flagManagedBy != 0:
		c.ManagedBy = d.str()
	}
	if flags&flagQuotas != 0 {
		c.Quotas = make([]auth.Rate, d.uvarint())
		for i := range c.Quotas {
			c.Quotas[i].Limit = int(d.varint())
			c.Quotas[i].Window = time.Duration(d.varint())
		}
	}
	if flags&flagQuotaWarn != 0 {
		c.QuotaMode = auth.QuotaWarn
	}
	if flags&flagExpressions != 0 {
		c.Claims = t.maps.decode(&d)
		c.Condition = d.str()
	}
	if d.p < len(d.b) {
		more := d.b[d.p]
		d.p++
		switch {
		case more&flagReuseOn != 0:
			c.TokenReuse = auth.ReuseOn
		case more&flagReuseOff != 0:
			c.TokenReuse = auth.ReuseOff
		}
	}
	return c
}

// The bits of a record's flags byte.
const (
	flagRequireDPoP byte = 1 << iota
	flagRequireCertBound
	flagTLSClientAuth // the five TLSClientAuth strings follow
	flagManagedBy     // ManagedBy follows (after the TLSClientAuth strings)
	flagManagedByApply
	flagQuotas    // the quotas follow (after ManagedBy): a count, then each limit and window
	flagQuotaWarn // QuotaMode is auth.QuotaWarn; no string, like flagManagedByApply
	// flagExpressions: the claim expressions follow (after the quotas): a
	// count, then each name and expression; then the condition.
	flagExpressions
)

// The bits of a record's second flags byte, written only when not zero.
const (
	flagReuseOn  byte = 1 << iota // TokenReuse is auth.ReuseOn
	flagReuseOff                  // TokenReuse is auth.ReuseOff
)

func appendStr(e []byte, s string) []byte {
	return append(binary.AppendUvarint(e, uint64(len(s))), s...)
}

func appendLen(e []byte, n int, isNil bool) []byte {
	if isNil {
		return append(e, 0)
	}
	return binary.AppendUvarint(e, uint64(n)+1)
}

func appendBool(e []byte, v bool) []byte {
	if v {
		return append(e, 1)
	}
	return append(e, 0)
}

func appendTime(e []byte, t time.Time) []byte {
	switch {
	case t.IsZero():
		return append(e, 0)
	case t.Location() == time.UTC:
		e = append(e, 1)
	default:
		e = append(e, 2)
	}
	e = binary.AppendVarint(e, t.Unix())
	return binary.AppendUvarint(e, uint64(t.Nanosecond()))
}

// decoder reads a record. The records are written by this package only, so
// a malformed one is a bug, and indexing past its end panics.
type decoder struct {
	b []byte
	p int
}

func (d *decoder) uvarint() uint64 {
	v, w := binary.Uvarint(d.b[d.p:])
	d.p += w
	return v
}

func (d *decoder) varint() int64 {
	v, w := binary.Varint(d.b[d.p:])
	d.p += w
	return v
}

func (d *decoder) bool() bool {
	d.p++
	return d.b[d.p-1] != 0
}

func (d *decoder) len() (n int, isNil bool) {
	v := d.uvarint()
	return int(v) - 1, v == 0
}

// str returns the next string without copying it: it points into the
// chunk, whose written bytes never change (see table).
func (d *decoder) str() string {
	n := int(d.uvarint())
	if n == 0 {
		return ""
	}
	s := unsafe.String(&d.b[d.p], n)
	d.p += n
	return s
}

func (d *decoder) time() time.Time {
	kind := d.b[d.p]
	d.p++
	if kind == 0 {
		return time.Time{}
	}
	t := time.Unix(d.varint(), int64(d.uvarint()))
	if kind == 1 {
		t = t.UTC()
	}
	return t
}
