package main

import (
	"encoding/base64"
	"net"
	"strconv"
	"strings"
	"time"
)

// badInputCorpus is the table of TestBadInputCorpus: id and secret are a
// real client's (so that a request with one thing wrong is otherwise
// valid), admin is an admin API access token.
func badInputCorpus(id, secret, admin string) []badInput {
	const (
		form    = "application/x-www-form-urlencoded"
		js      = "application/json"
		token   = "/v1/auth/token"
		unknown = "grant_type=client_credentials&client_id=gooclaim_app_nobody&client_secret=nope"
	)
	good := "grant_type=client_credentials&client_id=" + id + "&client_secret=" + secret
	goodJSON := `"grant_type":"client_credentials","client_id":"` + id + `","client_secret":"` + secret + `"`
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	basic := func(s string) string { return "Authorization: Basic " + b64(s) }
	smuggled := "GET " + smuggledPath + " HTTP/1.1\r\n" + rawHost + "\r\n"
	tokenHead := "POST " + token + " HTTP/1.1"
	big := strings.Repeat("a", 70<<10)

	return []badInput{
		// Oversized and endless bodies, absurd Content-Length.
		{name: "body over 64 KiB with an honest Content-Length", raw: rawPost(token, form, unknown+"&pad="+big), status: 413, code: "invalid_request", desc: "larger than 65536 bytes"},
		{name: "Content-Length of 10 GB, no body sent", raw: rawHeadersOnly(tokenHead, rawHost[:len(rawHost)-2], "Content-Type: "+form, "Content-Length: 10000000000"), status: 413, code: "invalid_request", desc: "larger than"},
		{name: "Content-Length overflowing int64", raw: rawHeadersOnly(tokenHead, rawHost[:len(rawHost)-2], "Content-Type: "+form, "Content-Length: 99999999999999999999"), status: 400, desc: "Bad Request"},
		{name: "negative Content-Length", raw: rawHeadersOnly(tokenHead, rawHost[:len(rawHost)-2], "Content-Type: "+form, "Content-Length: -1") + unknown, status: 400, desc: "Bad Request"},
		{name: "Content-Length with a plus sign", raw: rawHeadersOnly(tokenHead, rawHost[:len(rawHost)-2], "Content-Type: "+form, "Content-Length: +10") + unknown, status: 400, desc: "Bad Request"},
		{name: "Content-Length in hex", raw: rawHeadersOnly(tokenHead, rawHost[:len(rawHost)-2], "Content-Type: "+form, "Content-Length: 0x10") + unknown, status: 400, desc: "Bad Request"},
		{name: "Content-Length as a list", raw: rawHeadersOnly(tokenHead, rawHost[:len(rawHost)-2], "Content-Type: "+form, "Content-Length: 10, 10") + unknown, status: 400, desc: "Bad Request"},
		{name: "empty Content-Length", raw: rawHeadersOnly(tokenHead, rawHost[:len(rawHost)-2], "Content-Type: "+form, "Content-Length: ") + unknown, status: 400, desc: "Bad Request"},
		{name: "Content-Length shorter than the body: the rest is a garbage next request", raw: rawHeadersOnly(tokenHead, rawHost[:len(rawHost)-2], "Content-Type: "+form, "Content-Length: 10") + "grant_type=client_credentials&garbage\r\n\r\n", status: 400, code: "invalid_request", desc: "grant_type is required", next: 400},
		{slow: true, name: "Content-Length longer than the body, then silence", send: slowBody(rawHeadersOnly(tokenHead, rawHost[:len(rawHost)-2], "Content-Type: "+form, "Content-Length: 500")+unknown, 0), status: 400, code: "invalid_request", desc: "could not be read completely", after: badInputRequestTimeout - 100*time.Millisecond, within: badInputRequestTimeout + 2*time.Second},
		{name: "endless chunked body", send: endlessChunks, status: 413, code: "invalid_request", desc: "larger than"},
		{name: "chunked body over 64 KiB at once", raw: rawHeadersOnly(tokenHead, rawHost[:len(rawHost)-2], "Content-Type: "+form, "Transfer-Encoding: chunked") + chunked(unknown+"&pad="+big), status: 413, code: "invalid_request", desc: "larger than"},

		// Slow clients.
		{slow: true, name: "slowloris: headers one byte every 300 ms", send: slowly(rawPost(token, form, unknown), 300*time.Millisecond), status: 400, desc: "Bad Request", after: badInputReadHeaderTimeout - 100*time.Millisecond, within: badInputReadHeaderTimeout + 2*time.Second},
		{slow: true, name: "slow body: one byte every 300 ms", send: slowBody(rawPost(token, form, unknown), 300*time.Millisecond), status: 400, code: "invalid_request", desc: "could not be read completely", after: badInputRequestTimeout - 100*time.Millisecond, within: badInputRequestTimeout + 2*time.Second},

		// Request smuggling shapes.
		{name: "CL.TE: Content-Length covers a smuggled request, the chunked body ends before it", raw: rawHeadersOnly(tokenHead, rawHost[:len(rawHost)-2], "Content-Type: "+form, "Content-Length: "+itoa(len(chunked(unknown))+len(smuggled)), "Transfer-Encoding: chunked") + chunked(unknown) + smuggled, status: 401, code: "invalid_client", desc: "client authentication failed", closes: true},
		{name: "TE.CL: the chunk holds a smuggled request, Content-Length ends before it", raw: rawHeadersOnly(tokenHead, rawHost[:len(rawHost)-2], "Content-Type: "+form, "Content-Length: 4", "Transfer-Encoding: chunked") + chunked(smuggled), status: 400, code: "invalid_request", closes: true},
		{name: "CL.TE with TE in upper case", raw: rawHeadersOnly(tokenHead, rawHost[:len(rawHost)-2], "Content-Type: "+form, "Content-Length: 3", "Transfer-Encoding: CHUNKED") + chunked(unknown) + smuggled, status: 401, code: "invalid_client", closes: true},
		{name: "duplicate Content-Length with different values", raw: rawHeadersOnly(tokenHead, rawHost[:len(rawHost)-2], "Content-Type: "+form, "Content-Length: 3", "Content-Length: "+itoa(len(unknown))) + unknown + smuggled, status: 400, desc: "Bad Request"},
		{name: "duplicate Content-Length with the same value", raw: rawHeadersOnly(tokenHead, rawHost[:len(rawHost)-2], "Content-Type: "+form, "Content-Length: "+itoa(len(unknown)), "Content-Length: "+itoa(len(unknown))) + unknown, status: 401, code: "invalid_client"},
		{name: "two Transfer-Encoding headers", raw: rawHeadersOnly(tokenHead, rawHost[:len(rawHost)-2], "Content-Type: "+form, "Transfer-Encoding: chunked", "Transfer-Encoding: identity") + chunked(unknown) + smuggled, status: 501, desc: "Unsupported transfer encoding"},
		{name: "Transfer-Encoding: chunked, identity", raw: rawHeadersOnly(tokenHead, rawHost[:len(rawHost)-2], "Content-Type: "+form, "Transfer-Encoding: chunked, identity") + chunked(unknown) + smuggled, status: 501, desc: "Unsupported transfer encoding"},
		{name: "Transfer-Encoding: xchunked", raw: rawHeadersOnly(tokenHead, rawHost[:len(rawHost)-2], "Content-Type: "+form, "Content-Length: 3", "Transfer-Encoding: xchunked") + chunked(unknown) + smuggled, status: 501, desc: "Unsupported transfer encoding"},
		{name: "space before the colon of Transfer-Encoding", raw: rawHeadersOnly(tokenHead, rawHost[:len(rawHost)-2], "Content-Type: "+form, "Content-Length: 3", "Transfer-Encoding : chunked") + chunked(unknown) + smuggled, status: 400, desc: "Bad Request"},
		{name: "obs-fold Transfer-Encoding", raw: rawHeadersOnly(tokenHead, rawHost[:len(rawHost)-2], "Content-Type: "+form, "Content-Length: 3", "Transfer-Encoding:", " chunked") + chunked(unknown) + smuggled, status: 401, code: "invalid_client", closes: true},
		{name: "obs-fold in an ordinary header", raw: rawHeadersOnly(tokenHead, rawHost[:len(rawHost)-2], "Content-Type: "+form, "X-Note: a", " b", "Content-Length: "+itoa(len(unknown))) + unknown, status: 401, code: "invalid_client"},
		{name: "HTTP/1.0 keep-alive with Transfer-Encoding, the body a smuggled request", raw: rawHeadersOnly("POST "+token+" HTTP/1.0", rawHost[:len(rawHost)-2], "Connection: keep-alive", "Content-Type: "+form, "Transfer-Encoding: chunked") + smuggled, status: 400, code: "invalid_request", closes: true},
		{name: "chunk size not hex", raw: rawHeadersOnly(tokenHead, rawHost[:len(rawHost)-2], "Content-Type: "+form, "Transfer-Encoding: chunked") + "zz\r\n" + unknown + "\r\n0\r\n\r\n" + smuggled, status: 400, code: "invalid_request", desc: "could not be read completely"},
		{name: "chunk size overflowing 64 bits", raw: rawHeadersOnly(tokenHead, rawHost[:len(rawHost)-2], "Content-Type: "+form, "Transfer-Encoding: chunked") + "1ffffffffffffffff\r\n" + unknown + "\r\n0\r\n\r\n" + smuggled, status: 400, code: "invalid_request", desc: "could not be read completely"},
		{name: "negative chunk size", raw: rawHeadersOnly(tokenHead, rawHost[:len(rawHost)-2], "Content-Type: "+form, "Transfer-Encoding: chunked") + "-5\r\nhello\r\n0\r\n\r\n" + smuggled, status: 400, code: "invalid_request", desc: "could not be read completely"},
		{name: "chunk longer than its size", raw: rawHeadersOnly(tokenHead, rawHost[:len(rawHost)-2], "Content-Type: "+form, "Transfer-Encoding: chunked") + "3\r\n" + unknown + "\r\n0\r\n\r\n" + smuggled, status: 400, code: "invalid_request", desc: "could not be read completely"},
		{name: "chunk extension is accepted", raw: rawHeadersOnly(tokenHead, rawHost[:len(rawHost)-2], "Content-Type: "+form, "Transfer-Encoding: chunked") + strings.Replace(chunked(unknown), "\r\n", ";ext=1\r\n", 1), status: 401, code: "invalid_client", closes: true},
		{name: "pipelined request after a chunked body is not served", raw: rawHeadersOnly(tokenHead, rawHost[:len(rawHost)-2], "Content-Type: "+form, "Transfer-Encoding: chunked") + chunked(unknown) + smuggled, status: 401, code: "invalid_client", closes: true},

		// Headers: size, injection, malformed lines.
		{name: "one 64 KiB header", raw: rawPost(token, form, unknown, "X-Big: "+strings.Repeat("b", 64<<10)), status: 431, desc: "Request Header Fields Too Large"},
		{name: "10,000 small headers", raw: rawPost(token, form, unknown, strings.Repeat("X-A: 1\r\n", 9999)+"X-A: 1"), status: 431, desc: "Request Header Fields Too Large"},
		{name: "64 KiB request target", raw: rawPost(token+"?"+strings.Repeat("q", 64<<10), form, unknown), status: 431, desc: "Request Header Fields Too Large"},
		{name: "NUL byte in a header value", raw: rawPost(token, form, unknown, "X-Note: a\x00b"), status: 400, desc: "Bad Request"},
		{name: "bare CR in a header value (header injection)", raw: rawPost(token, form, unknown, "X-Note: a\rSet-Cookie: x=1"), status: 400, desc: "Bad Request", noHeader: "Set-Cookie"},
		{name: "space inside a header name", raw: rawPost(token, form, unknown, "X Note: a"), status: 400, desc: "Bad Request"},
		{name: "header line without a colon", raw: rawPost(token, form, unknown, "NoColonHere"), status: 400, desc: "Bad Request"},
		{name: "missing Host", raw: "POST " + token + " HTTP/1.1\r\nContent-Type: " + form + "\r\nContent-Length: " + itoa(len(unknown)) + "\r\n\r\n" + unknown, status: 400, desc: "missing required Host header"},
		{name: "malformed Host", raw: strings.Replace(rawPost(token, form, unknown), rawHost, "Host: a b\r\n", 1), status: 400, desc: "malformed Host header"},
		{name: "two Host headers", raw: rawPost(token, form, unknown, "Host: evil.example"), status: 400, desc: "Bad Request"},
		{name: "encoded CRLF in client_id", raw: rawPost(token, form, "grant_type=client_credentials&client_id=a%0d%0aSet-Cookie:%20x=1&client_secret=x"), status: 400, code: "invalid_request", desc: "printable ASCII", noHeader: "Set-Cookie"},
		{name: "encoded CRLF in grant_type, echoed quoted", raw: rawPost(token, form, "grant_type=a%0d%0aSet-Cookie:%20x=1&"+good[len("grant_type=client_credentials&"):]), status: 400, code: "unsupported_grant_type", desc: `\r\n`, noHeader: "Set-Cookie"},
		{name: "unknown expectation", raw: rawPost(token, form, unknown, "Expect: 200-ok"), status: 417},
		{name: "Expect: 100-continue", raw: rawPost(token, form, unknown, "Expect: 100-continue"), status: 401, code: "invalid_client"},
		{name: "bare LF line endings", raw: strings.ReplaceAll(rawPost(token, form, unknown), "\r\n", "\n"), status: 401, code: "invalid_client"},

		// Request lines.
		{name: "garbage request line", raw: "HELLO\r\n\r\n", status: 400, desc: "Bad Request"},
		{name: "HTTP/2.0 on an HTTP/1 connection", raw: strings.Replace(rawPost(token, form, unknown), "HTTP/1.1", "HTTP/2.0", 1), status: 505, desc: "unsupported protocol version"},
		{name: "malformed HTTP version", raw: strings.Replace(rawPost(token, form, unknown), "HTTP/1.1", "HTTP/1.x", 1), status: 400, desc: "Bad Request"},
		{name: "lower-case method", raw: "post" + rawPost(token, form, unknown)[4:], status: 405, code: "method_not_allowed", desc: "POST"},
		{name: "invented method", raw: "BREW" + rawPost(token, form, unknown)[4:], status: 405, code: "method_not_allowed", desc: "POST"},
		{name: "absolute-form request target", raw: strings.Replace(rawPost(token, form, unknown), "POST "+token, "POST http://evil.example"+token, 1), status: 401, code: "invalid_client"},
		{name: "NUL in the path", raw: rawPost(token+"%00", form, unknown), status: 404, code: "not_found"},
		{name: "dot segments in the path", raw: rawPost("/v1/auth/../auth/token", form, unknown), status: 404, code: "not_found"},
		{name: "OPTIONS *", raw: "OPTIONS * HTTP/1.1\r\n" + rawHost + "\r\n", status: 200},
		{name: "CONNECT", raw: "CONNECT 127.0.0.1:443 HTTP/1.1\r\n" + rawHost + "\r\n", status: 404, code: "not_found"},

		// JSON bodies.
		{name: "JSON duplicate client_secret", raw: rawPost(token, js, `{`+goodJSON+`,"client_secret":"other"}`), status: 400, code: "invalid_request", desc: "more than once"},
		{name: "JSON duplicate member, second null", raw: rawPost(token, js, `{`+goodJSON+`,"client_id":null}`), status: 400, code: "invalid_request", desc: "more than once"},
		{name: "JSON nested 30,000 deep in an unknown member", raw: rawPost(token, js, `{"x":`+strings.Repeat("[", 30000)+strings.Repeat("]", 30000)+`,`+goodJSON+`}`), status: 400, code: "invalid_request", desc: "not valid JSON"},
		{name: "JSON nested objects for client_id", raw: rawPost(token, js, `{"client_id":{"a":{"b":{}}}}`), status: 400, code: "invalid_request", desc: "client_id must be a string, not an object"},
		{name: "JSON nulls for every member", raw: rawPost(token, js, `{"grant_type":null,"client_id":null,"client_secret":null}`), status: 400, code: "invalid_request", desc: "grant_type is required"},
		{name: "JSON null body", raw: rawPost(token, js, `null`), status: 400, code: "invalid_request", desc: "must be an object"},
		{name: "JSON boolean client_secret", raw: rawPost(token, js, `{"grant_type":"client_credentials","client_id":"a","client_secret":true}`), status: 400, code: "invalid_request", desc: "client_secret must be a string, not a boolean"},
		{name: "JSON huge number for client_id", raw: rawPost(token, js, `{"client_id":1e999999999}`), status: 400, code: "invalid_request", desc: "client_id must be a string, not a number"},
		{name: "JSON 20,000-digit number in an unknown member is ignored", raw: rawPost(token, js, `{"n":`+strings.Repeat("9", 20000)+`,`+goodJSON+`}`), status: 200, desc: "access_token"},
		{name: "JSON raw control character in a string", raw: rawPost(token, js, `{"client_id":"a`+"\x01"+`b"}`), status: 400, code: "invalid_request", desc: "not valid JSON"},
		{name: "JSON escaped NUL in client_id", raw: rawPost(token, js, `{"grant_type":"client_credentials","client_id":"a\u0000b","client_secret":"x"}`), status: 400, code: "invalid_request", desc: "printable ASCII"},
		{name: "JSON lone surrogate in client_id", raw: rawPost(token, js, `{"grant_type":"client_credentials","client_id":"a\ud800","client_secret":"x"}`), status: 400, code: "invalid_request", desc: "printable ASCII"},
		{name: "JSON invalid UTF-8", raw: rawPost(token, js, `{"grant_type":"client_credentials","client_id":"`+"\xff\xfe"+`","client_secret":"x"}`), status: 400, code: "invalid_request", desc: "not valid UTF-8"},
		{name: "JSON overlong UTF-8 slash", raw: rawPost(token, js, `{"client_id":"`+"\xc0\xaf"+`"}`), status: 400, code: "invalid_request", desc: "not valid UTF-8"},
		{name: "JSON with a byte-order mark", raw: rawPost(token, js, "\ufeff{"+goodJSON+"}"), status: 400, code: "invalid_request", desc: "not valid JSON"},
		{name: "JSON followed by a second value", raw: rawPost(token, js, `{`+goodJSON+`}{"grant_type":"x"}`), status: 400, code: "invalid_request", desc: "more than one JSON value"},
		{name: "JSON empty body", raw: rawPost(token, js, ""), status: 400, code: "invalid_request", desc: "empty or ends too early"},
		{name: "JSON truncated", raw: rawPost(token, js, `{"grant_type":"client_credentials"`), status: 400, code: "invalid_request", desc: "ends too early"},

		// Form bodies.
		{name: "raw NUL byte in the form's client_id", raw: rawPost(token, form, "grant_type=client_credentials&client_id=a\x00b&client_secret=x"), status: 400, code: "invalid_request", desc: "printable ASCII"},
		{name: "form value decoding to invalid UTF-8", raw: rawPost(token, form, "grant_type=client_credentials&client_id=%ff&client_secret=x"), status: 400, code: "invalid_request", desc: "not valid UTF-8 once decoded"},
		{name: "form with semicolons", raw: rawPost(token, form, "grant_type=client_credentials;client_id=a;client_secret=b"), status: 400, code: "invalid_request", desc: "semicolons"},
		{name: "form with 20,000 parameters", raw: rawPost(token, form, strings.Repeat("a=&", 20000)+good), status: 400, code: "invalid_request", desc: "form body is malformed"},
		{name: "client_id of 300 characters", raw: rawPost(token, form, "grant_type=client_credentials&client_id="+strings.Repeat("x", 300)+"&client_secret=x"), status: 400, code: "invalid_request", desc: "longer than 256"},

		// Content types.
		{name: "no Content-Type", raw: rawPost(token, "", good), status: 400, code: "invalid_request", desc: "Content-Type"},
		{name: "two Content-Type headers", raw: rawPost(token, js, good, "Content-Type: "+form), status: 400, code: "invalid_request", desc: "exactly one Content-Type"},
		{name: "charset utf-16", raw: rawPost(token, js+"; charset=utf-16", "{"+goodJSON+"}"), status: 400, code: "invalid_request", desc: "unsupported charset"},
		{name: "malformed media type", raw: rawPost(token, "application/json;;;=", "{"+goodJSON+"}"), status: 400, code: "invalid_request", desc: "unsupported Content-Type"},
		{name: "form body labelled JSON", raw: rawPost(token, js, good), status: 400, code: "invalid_request", desc: "not valid JSON"},
		{name: "JSON body labelled form", raw: rawPost(token, form, "{"+goodJSON+"}"), status: 400, code: "invalid_request", desc: "grant_type is required"},
		{name: "NUL in Content-Type", raw: rawPost(token, "application/json\x00", "{"+goodJSON+"}"), status: 400, desc: "Bad Request"},

		// HTTP Basic.
		{name: "Basic not base64", raw: rawPost(token, form, "grant_type=client_credentials", "Authorization: Basic %%%"), status: 401, code: "invalid_client", desc: "base64"},
		{name: "Basic without a colon", raw: rawPost(token, form, "grant_type=client_credentials", basic(id)), status: 401, code: "invalid_client", desc: "colon"},
		{name: "Basic with nothing after the scheme", raw: rawPost(token, form, "grant_type=client_credentials", "Authorization: Basic"), status: 401, code: "invalid_client", desc: "colon"},
		{name: "Basic with an empty client_id", raw: rawPost(token, form, "grant_type=client_credentials", basic(":"+secret)), status: 401, code: "invalid_client", desc: "empty client_id"},
		{name: "Basic with a bad percent-escape", raw: rawPost(token, form, "grant_type=client_credentials", basic(id+"%zz:"+secret)), status: 401, code: "invalid_client", desc: "form-url-encoded"},
		{name: "Basic with an encoded NUL in client_id", raw: rawPost(token, form, "grant_type=client_credentials", basic("a%00b:"+secret)), status: 400, code: "invalid_request", desc: "printable ASCII"},
		{name: "Basic with a raw control character in the secret", raw: rawPost(token, form, "grant_type=client_credentials", basic(id+":a\x07b")), status: 400, code: "invalid_request", desc: "printable ASCII"},
		{name: "two Authorization headers", raw: rawPost(token, form, "grant_type=client_credentials", basic(id+":"+secret), basic(id+":"+secret)), status: 400, code: "invalid_request", desc: "at most one Authorization"},
		{name: "Digest scheme", raw: rawPost(token, form, "grant_type=client_credentials", `Authorization: Digest username="a"`), status: 401, code: "invalid_client", desc: "unsupported authentication scheme"},

		// The other endpoints.
		{name: "introspect: token of 20 KiB", raw: rawPost("/v1/auth/introspect", form, "client_id=a&client_secret=b&token="+strings.Repeat("t", 20<<10)), status: 400, code: "invalid_request", desc: "token is longer than"},
		{name: "introspect: JSON array", raw: rawPost("/v1/auth/introspect", js, `["token"]`), status: 400, code: "invalid_request", desc: "must be an object"},
		{name: "introspect: body over 64 KiB", raw: rawPost("/v1/auth/introspect", form, "token="+big), status: 413, code: "invalid_request", desc: "larger than"},
		{name: "revoke: repeated token", raw: rawPost("/v1/auth/revoke", form, "token=a&token=b", basic(id+":"+secret)), status: 400, code: "invalid_request", desc: "token is repeated"},
		{name: "revoke: endless chunked body", send: endlessChunksTo("/v1/auth/revoke"), status: 413, code: "invalid_request", desc: "larger than"},
		{name: "admin: junk Bearer token", raw: "GET /v1/admin/clients HTTP/1.1\r\n" + rawHost + "Authorization: Bearer ~~~junk~~~\r\n\r\n", status: 401, code: "invalid_token"},
		{name: "admin: create with malformed JSON", raw: rawPost("/v1/admin/clients", js, `{"name":`, "Authorization: Bearer "+admin), status: 400, code: "invalid_request"},
		{name: "admin: create with a text/plain body", raw: rawPost("/v1/admin/clients", "text/plain", `{"name":"x"}`, "Authorization: Bearer "+admin), status: 415, code: "unsupported_media_type"},
		{name: "admin: create with a deeply nested name", raw: rawPost("/v1/admin/clients", js, `{"name":`+strings.Repeat("[", 20000)+strings.Repeat("]", 20000)+`}`, "Authorization: Bearer "+admin), status: 400, code: "invalid_request"},
		{name: "admin: create with a body over the limit", raw: rawPost("/v1/admin/clients", js, `{"name":"`+strings.Repeat("n", 2<<20)+`"}`, "Authorization: Bearer "+admin), status: 413, code: "invalid_request"},
		{name: "JWKS: POST", raw: rawPost("/.well-known/jwks.json", form, unknown), status: 405, code: "method_not_allowed", desc: "GET"},
		{name: "JWKS: HEAD", raw: "HEAD /.well-known/jwks.json HTTP/1.1\r\n" + rawHost + "\r\n", status: 200, head: true},
		{name: "JWKS: GET with a body and junk query", raw: strings.Replace(rawPost("/.well-known/jwks.json?%zz&a=\x7f", form, unknown), "POST", "GET", 1), status: 400, desc: "Bad Request"},
		{name: "discovery: DELETE", raw: "DELETE /.well-known/oauth-authorization-server HTTP/1.1\r\n" + rawHost + "\r\n", status: 405, code: "method_not_allowed"},
		{name: "discovery: GET with a smuggled request in a CL body", raw: strings.Replace(rawPost("/.well-known/openid-configuration", "", smuggled), "POST", "GET", 1), status: 200, desc: "issuer"},
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// endlessChunks sends a token request whose chunked body never ends.
func endlessChunks(c net.Conn) error { return endlessChunksTo("/v1/auth/token")(c) }

func endlessChunksTo(path string) func(net.Conn) error {
	return func(c net.Conn) error {
		head := rawHeadersOnly("POST "+path+" HTTP/1.1", strings.TrimSuffix(rawHost, "\r\n"),
			"Content-Type: application/x-www-form-urlencoded", "Transfer-Encoding: chunked")
		if _, err := c.Write([]byte(head)); err != nil {
			return err
		}
		chunk := []byte("1000\r\n" + strings.Repeat("a", 0x1000) + "\r\n")
		for {
			if _, err := c.Write(chunk); err != nil {
				return err
			}
		}
	}
}

// slowBody sends req's head, pausing before its blank line, then its body
// one byte every interval (at once for 0), then nothing. The pause matters:
// the server's read deadline runs from the start of the request and its
// write deadline from the end of the head, both --request-timeout long, so
// the answer to a body that timed out can only be written when the head
// took a while; when head and a short body come at once the connection is
// usually just closed, without an answer.
func slowBody(req string, interval time.Duration) func(net.Conn) error {
	head, body, _ := strings.Cut(req, "\r\n\r\n")
	return func(c net.Conn) error {
		if _, err := c.Write([]byte(head + "\r\n")); err != nil {
			return err
		}
		time.Sleep(badInputReadHeaderTimeout / 2) // well within the header timeout
		if _, err := c.Write([]byte("\r\n")); err != nil {
			return err
		}
		if interval == 0 {
			_, err := c.Write([]byte(body))
			return err
		}
		return slowly(body, interval)(c)
	}
}
