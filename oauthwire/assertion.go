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
		iss, sub, ok := assertionIssuerSubject(assertion)
		if !ok {
			return auth.ErrInvalidRequest.WithDescription("client_assertion is not a JWT with a sub claim naming the client, and no client_id was sent")
		}
		// A private_key_jwt assertion's iss is its sub, the client ID. One
		// whose iss differs may be a trusted issuer's token
		// (auth.AuthFederatedJWT), whose sub is no client ID: the issuer,
		// which knows the trusted issuers, finds the client then
		// (issuer.Lookup), and otherwise charges sub as before.
		if iss == "" || iss == sub {
			req.ClientID = sub
		}
	}
	req.AuthMethod, req.ClientAssertion = auth.AuthPrivateKeyJWT, assertion
	return nil
}

// AssertionSubject reads the "sub" of a compact JWT without verifying
// anything: it only says which client the assertion claims to be.
func AssertionSubject(assertion string) (string, bool) {
	_, sub, ok := assertionIssuerSubject(assertion)
	return sub, ok
}

// assertionIssuerSubject is AssertionSubject, with the unverified "iss"
// too ("" when absent or not a string).
func assertionIssuerSubject(assertion string) (iss, sub string, ok bool) {
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 {
		return "", "", false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", "", false
	}
	// A map, not a struct: encoding/json matches struct fields without
	// regard to case, so {"sub":"a","Sub":"b"} would give "b" where the
	// assertion verifier (clientauth) reads "a".
	var c map[string]json.RawMessage
	if json.Unmarshal(payload, &c) != nil || json.Unmarshal(c["sub"], &sub) != nil || sub == "" {
		return "", "", false
	}
	if json.Unmarshal(c["iss"], &iss) != nil {
		iss = ""
	}
	return iss, sub, true
}
