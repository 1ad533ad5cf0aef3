package oauthwire

import (
	"reflect"
	"testing"
	"unicode/utf8"
)

// FuzzFastPaths checks that whenever a fast path takes a body, it gives
// exactly what the general path gives for it: the same parameters and the
// same error. Bodies are valid UTF-8, as readParams passes them.
func FuzzFastPaths(f *testing.F) {
	for _, s := range []string{
		"grant_type=client_credentials&client_id=gooclaim_app_x&client_secret=gcs_abc",
		"grant_type=client_credentials&scope=a&scope=b",
		"&&client_id&=x&client_id=&scope=é",
		"client_id=a%20b", "client_id=a+b", "client_id=a;b", "",
		`{"grant_type":"client_credentials","client_id":"gooclaim_app_x","client_secret":"gcs_abc"}`,
		` { "client_id" : null , "x":"y" } ` + "\n",
		`{}`, `{ }`, `{"client_id":"a","client_id":"b"}`, `{"client_id":"a\"b"}`, `{"scope":1}`,
		`{"a":"b",}`, `{"a":"b"} {}`, `{"a":"b"}x`, `[]`, `{"a":nul}`, `{"a":nullx}`, `{"é":"\u2028"}`,
		"{\"a\":\"\t\"}", `{"client_id":"x"`, `{"client_id"`, `{"client_id":`, `"x"`, `null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if !utf8.Valid(body) {
			return
		}
		var fast, general params
		if ok, err := parseFormFast(body, &fast); ok {
			gerr := parseFormGeneral(body, &general)
			if fast != general || !reflect.DeepEqual(err, gerr) {
				t.Fatalf("form %q:\nfast    %q, %v\ngeneral %q, %v", body, fast, err, general, gerr)
			}
		} else if fast != (params{}) {
			t.Fatalf("form %q: the fast path declined but set %q", body, fast)
		}
		fast, general = params{}, params{}
		if parseJSONFast(body, &fast) {
			if err := parseJSONGeneral(body, &general); err != nil || fast != general {
				t.Fatalf("JSON %q:\nfast    %q\ngeneral %q, %v", body, fast, general, err)
			}
		} else if fast != (params{}) {
			t.Fatalf("JSON %q: the fast path declined but set %q", body, fast)
		}
	})
}

func TestFastPathsTakeCommonBodies(t *testing.T) {
	var p params
	if ok, err := parseFormFast([]byte("grant_type=client_credentials&client_id=gooclaim_app_x&client_secret=gcs_a-b_c"), &p); !ok || err != nil {
		t.Errorf("form: fast path declined (%v, %v)", ok, err)
	}
	if !parseJSONFast([]byte(`{"grant_type":"client_credentials","client_id":"gooclaim_app_x","client_secret":"gcs_a-b_c"}`), &p) {
		t.Error("JSON: fast path declined")
	}
}
