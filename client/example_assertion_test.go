package client_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/go-jose/go-jose/v4"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/client"
	"github.com/gooclaim/auth/clientauth"
	"github.com/gooclaim/auth/inmem"
)

// A service authenticating with its private key rather than a secret
// (private_key_jwt): the key is read from a PEM file; its public key was
// registered with Gooclaim Auth under the key ID "2026-01".
func ExampleConfig_Client_privateKeyJWT() {
	pemBytes, err := os.ReadFile("/run/secrets/gooclaim-client-key.pem")
	if err != nil {
		log.Fatal(err)
	}
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		log.Fatal("no PEM block in the key file")
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes) // "PRIVATE KEY"
	if err != nil {
		log.Fatal(err)
	}
	conf := &client.Config{
		Issuer:     "https://auth.gooclaim.com",
		ClientID:   "claims-importer",
		AuthStyle:  client.AuthPrivateKeyJWT,
		PrivateKey: key.(crypto.Signer),
		KeyID:      "2026-01",
		Scopes:     []string{"claims:read"},
	}
	api := conf.Client(context.Background())
	resp, err := api.Get("https://api.gooclaim.com/v1/claims/C-1")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
}

// The client kit against a token endpoint that checks its assertions with
// clientauth.Verifier, as Gooclaim Auth does.
func ExampleConfig_Token_privateKeyJWT() {
	// The client's key pair: the private key stays with the client, the
	// public key is registered with the server as a JWK Set.
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	srv := newAssertionExampleServer(key.Public(), "claims-importer", "2026-01")
	defer srv.Close()

	conf := &client.Config{
		TokenURL:   srv.URL + "/v1/auth/token",
		ClientID:   "claims-importer",
		AuthStyle:  client.AuthPrivateKeyJWT,
		PrivateKey: key,
		KeyID:      "2026-01",
	}
	for range 2 { // a new assertion each time: each is used once
		tok, err := conf.Token(context.Background())
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(tok.AccessToken)
	}
	// Output:
	// token for claims-importer (private_key_jwt)
	// token for claims-importer (private_key_jwt)
}

// newAssertionExampleServer is a token endpoint knowing one client, whose
// public key it holds, and verifying its assertions with clientauth.
func newAssertionExampleServer(pub crypto.PublicKey, clientID, kid string) *httptest.Server {
	jwks, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: pub, KeyID: kid, Use: "sig"}}})
	c := &auth.Client{ID: clientID, JWKS: jwks}
	var v *clientauth.Verifier
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.PostFormValue("client_assertion_type") != auth.ClientAssertionTypeJWT || r.PostFormValue("client_id") != clientID {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":"invalid_client"}`)
			return
		}
		if err := v.Verify(r.Context(), c, r.PostFormValue("client_assertion")); err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			json.NewEncoder(w).Encode(err)
			return
		}
		fmt.Fprintf(w, `{"access_token":"token for %s (private_key_jwt)","token_type":"Bearer","expires_in":3600}`, clientID)
	}))
	var err error
	v, err = clientauth.NewVerifier(clientauth.Config{
		TokenEndpoint: srv.URL + "/v1/auth/token",
		Replay:        inmem.NewReplayCache(inmem.ReplayCacheOptions{}),
	})
	if err != nil {
		log.Fatal(err)
	}
	return srv
}
