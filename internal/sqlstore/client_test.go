package sqlstore

import (
	"encoding/json"
	"slices"
	"testing"
)

// FuzzParseList: parseList, with its shortcut for plain lists, decodes
// what encoding/json does, and accepts what it accepts.
func FuzzParseList(f *testing.F) {
	for _, s := range []string{
		`[]`, `["read"]`, `["read","write:all"]`, `[""]`, `["",""]`, `["a","","b"]`,
		`["é ✓","{}"]`, `["a\"b"]`, `["a\\b"]`, `["\u003c"]`, `["a", "b"]`, `[ "a"]`, `["a",1]`,
		`["a""b"]`, `["a"]x`, `"a"`, `["a`, `["` + "\x01" + `"]`, `["` + "\xff" + `"]`, `null`, `["a","b",]`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseList(s)
		var want []string
		wantErr := json.Unmarshal([]byte(s), &want)
		if len(want) == 0 {
			want = nil
		}
		if (err != nil) != (wantErr != nil) || err == nil && (!slices.Equal(got, want) || got != nil && len(got) == 0) {
			t.Errorf("parseList(%q) = %q, %v; want %q, %v", s, got, err, want, wantErr)
		}
	})
}

// TestJSONListRoundTrip: what JSONList writes, parseList reads back.
func TestJSONListRoundTrip(t *testing.T) {
	for _, l := range [][]string{nil, {"a"}, {"read", "write:all"}, {""}, {"<&>", `a"b`, `a\b`, "é", "\x00\n"}, {"a", "", "b"}} {
		got, err := parseList(JSONList(l).(string))
		if err != nil || !slices.Equal(got, l) {
			t.Errorf("parseList(JSONList(%q)) = %q, %v", l, got, err)
		}
	}
}
