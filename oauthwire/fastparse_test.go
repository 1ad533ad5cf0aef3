package oauthwire

import (
	"reflect"
	"strings"
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
		"a&b&c&d&e&f&g&h&i&j&k&l&m&n&o", "a&b&c&d&e&f&g&h&i&j&k&l&m&n&o&p", "a&b&c&d&e&f&g&h&i&j&k&l&m&n&o&p&q",
		`{"grant_type":"client_credentials","client_id":"gooclaim_app_x","client_secret":"gcs_abc"}`,
		` { "client_id" : null , "x":"y" } ` + "\n",
		`{}`, `{ }`, `{"client_id":"a","client_id":"b"}`, `{"client_id":"a\"b"}`, `{"scope":1}`,
		`{"a":"b",}`, `{"a":"b"} {}`, `{"a":"b"}x`, `[]`, `{"a":nul}`, `{"a":nullx}`, `{"é":"\u2028"}`,
		"grant_type=urn:ietf:params:oauth:grant-type:token-exchange&subject_token=a.b.c&subject_token_type=urn:ietf:params:oauth:token-type:jwt&requested_token_type=x",
		`{"grant_type":"urn:ietf:params:oauth:grant-type:token-exchange","subject_token":"a.b.c","subject_token_type":"t","actor_token":null,"actor_token_type":"u"}`,
		"subject_token=a&subject_token=b", `{"requested_token_type":"a","requested_token_type":"b"}`,
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

// TestFormFastPathParameterLimit: url.ParseQuery refuses a body of more
// than 10,000 parameters, so the fast path must leave such bodies to it.
func TestFormFastPathParameterLimit(t *testing.T) {
	body := []byte("client_id=x" + strings.Repeat("&a=b", 20000))
	var p params
	if ok, _ := parseFormFast(body, &p); ok {
		t.Fatal("the fast path took a body of 20,001 parameters")
	}
	if err := parseForm(body, &p); err == nil {
		t.Fatal("a body of 20,001 parameters was accepted")
	}
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
