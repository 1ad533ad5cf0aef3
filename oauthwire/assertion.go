package oauthwire

import (
	"encoding/base64"
	"encoding/json"
	"strings"

	"github.com/gooclaim/auth"
)

// MaxAssertionLength bounds a client_assertion; real ones are under 2 KiB.
const MaxAssertionLength = 8 << 10

// readAssertion reads private_key_jwt client authentication (RFC 7521
// §4.2, RFC 7523 §2.2) into req. A malformed use of the parameters is
// invalid_request (the request is wrong, whoever sends it); whether the
// assertion authenticates the client is for the issuer to decide.
func readAssertion(req *auth.TokenRequest, p *params, hasBasic bool) error {
	typ, assertion := p.get(paramClientAssertionType), p.get(paramClientAssertion)
	switch {
	case typ == "" && assertion == "":
		return nil
	case typ == "":
		return auth.ErrInvalidRequest.WithDescription("client_assertion needs client_assertion_type=" + auth.ClientAssertionTypeJWT)
	case assertion == "":
		return auth.ErrInvalidRequest.WithDescription("client_assertion_type is set but client_assertion is missing")
	case typ != auth.ClientAssertionTypeJWT:
		return auth.ErrInvalidRequest.WithDescription("unsupported client_assertion_type " + quoteTrim(typ) + ": use " + auth.ClientAssertionTypeJWT)
	case hasBasic || p.get(paramClientSecret) != "":
		return auth.ErrInvalidRequest.WithDescription("the client authenticated with both a client assertion and a client secret; use exactly one method")
	case len(assertion) > MaxAssertionLength:
		return auth.ErrInvalidRequest.WithDescription("client_assertion is too long")
	}
	if req.ClientID == "" {
		// Only to find the client and charge its rate limit: the issuer
		// checks that the verified iss and sub are this client.
		sub, ok := AssertionSubject(assertion)
		if !ok {
			return auth.ErrInvalidRequest.WithDescription("client_assertion is not a JWT with a sub claim naming the client, and no client_id was sent")
		}
		req.ClientID = sub
	}
	req.AuthMethod, req.ClientAssertion = auth.AuthPrivateKeyJWT, assertion
	return nil
}

// AssertionSubject reads the "sub" of a compact JWT without verifying
// anything: it only says which client the assertion claims to be.
func AssertionSubject(assertion string) (string, bool) {
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 {
		return "", false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", false
	}
	// A map, not a struct: encoding/json matches struct fields without
	// regard to case, so {"sub":"a","Sub":"b"} would give "b" where the
	// assertion verifier (clientauth) reads "a".
	var c map[string]json.RawMessage
	var sub string
	if json.Unmarshal(payload, &c) != nil || json.Unmarshal(c["sub"], &sub) != nil || sub == "" {
		return "", false
	}
	return sub, true
}
