package auth

import (
	"bytes"
	"slices"
)

// Equal reports whether two keys are the same in every field.
func (k Key) Equal(o Key) bool {
	return k.ID == o.ID && k.Algorithm == o.Algorithm &&
		bytes.Equal(k.Public, o.Public) && bytes.Equal(k.Sealed, o.Sealed) &&
		k.CreatedAt.Equal(o.CreatedAt) && k.SigningFrom.Equal(o.SigningFrom)
}

// Clone returns a copy that shares no memory with k.
func (k Key) Clone() Key {
	k.Public = bytes.Clone(k.Public)
	k.Sealed = bytes.Clone(k.Sealed)
	return k
}

// CloneKeys deep-copies a key set.
func CloneKeys(keys []Key) []Key {
	out := slices.Clone(keys)
	for i := range out {
		out[i] = out[i].Clone()
	}
	return out
}

// DiffKeys tells a KeyStore what UpdateKeys must write: the keys of next that
// are not stored (insert) and the IDs of stored keys absent from next
// (remove). It checks what every store relies on — non-empty, distinct IDs,
// both times set — and that no stored key was changed, since keys are
// immutable; those are EINVALID errors. stored must not have been handed to
// the caller's function (pass a CloneKeys copy).
func DiffKeys(stored, next []Key) (insert []Key, remove []string, err error) {
	byID := make(map[string]Key, len(stored))
	for _, k := range stored {
		byID[k.ID] = k
	}
	kept := make(map[string]bool, len(next))
	for _, k := range next {
		switch {
		case k.ID == "":
			return nil, nil, Errorf(EINVALID, "update signing keys: a key has an empty ID")
		case kept[k.ID]:
			return nil, nil, Errorf(EINVALID, "update signing keys: two keys have the ID %q", k.ID)
		case k.CreatedAt.IsZero() || k.SigningFrom.IsZero():
			return nil, nil, Errorf(EINVALID, "update signing keys: key %q has no CreatedAt or SigningFrom", k.ID)
		}
		kept[k.ID] = true
		old, ok := byID[k.ID]
		if !ok {
			insert = append(insert, k)
			continue
		}
		if !old.Equal(k) {
			return nil, nil, Errorf(EINVALID, "update signing keys: key %q differs from the stored one, and keys are immutable", k.ID)
		}
	}
	for _, k := range stored {
		if !kept[k.ID] {
			remove = append(remove, k.ID)
		}
	}
	return insert, remove, nil
}
