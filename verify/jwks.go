package verify

import (
	"slices"

	"github.com/gooclaim/auth/internal/jwkset"
)

// parseJWKS reads a JWK Set (RFC 7517 §5) one key at a time, so that a key
// of a type it does not know does not hide the others, and keeps the public
// signature keys with a kid that verify one of the allowed algorithms. The
// rules are those of internal/jwkset, which clientauth applies too.
func parseJWKS(body []byte, allowed []string) (*keySet, error) {
	parsed, err := jwkset.Parse(body, jwkset.Options{
		Algorithms:     allowed,
		AlgorithmsName: "Config.Algorithms",
		RequireKID:     true,
	})
	if err != nil {
		return nil, err
	}
	set := &keySet{byKID: make(map[string][]publicKey, len(parsed.Keys))}
	for _, p := range parsed.Ignored {
		set.ignored = append(set.ignored, p.String())
	}
	for _, k := range parsed.Keys {
		if _, ok := set.byKID[k.KID]; !ok {
			set.kids = append(set.kids, k.KID)
		}
		set.byKID[k.KID] = append(set.byKID[k.KID], publicKey{alg: k.Alg, key: k.Key})
	}
	slices.Sort(set.kids)
	return set, nil
}
