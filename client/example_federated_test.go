package client_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"github.com/gooclaim/auth/client"
)

// A workload on Kubernetes with no secret at all: its service account
// token, projected with the audience of Gooclaim Auth (docs/secretless.md),
// authenticates it. The kubelet rewrites the file before the token
// expires; the kit reads it for every token request.
func ExampleConfig_Client_kubernetes() {
	conf := &client.Config{
		Issuer:             "https://auth.gooclaim.com",
		AuthStyle:          client.AuthFederatedJWT,
		FederatedTokenFile: "/var/run/secrets/tokens/gooclaim-auth",
		Scopes:             []string{"claims:read"},
	}
	api := conf.Client(context.Background())
	resp, err := api.Get("https://api.gooclaim.com/v1/claims/C-1")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
}

// A GitHub Actions job (with "permissions: id-token: write") calling an
// API with the job's OIDC token as its credential.
func ExampleGitHubActionsToken() {
	conf := &client.Config{
		Issuer:         "https://auth.gooclaim.com",
		AuthStyle:      client.AuthFederatedJWT,
		FederatedToken: client.GitHubActionsToken("https://auth.gooclaim.com", nil),
	}
	tok, err := conf.Token(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tok.Expiry)
}

// newFederationExampleServer stands in for Gooclaim Auth: it knows the
// workload tokens in federated (token → client) and lets "claims-api",
// with the secret "s3cret", act for the holder of "partner-token".
func newFederationExampleServer(federated map[string]string) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fail := func(status int, code string) {
			w.WriteHeader(status)
			fmt.Fprintf(w, `{"error":%q}`, code)
		}
		resp := map[string]any{"token_type": "Bearer", "expires_in": 3600}
		switch r.PostFormValue("grant_type") {
		case "client_credentials":
			id, ok := federated[r.PostFormValue("client_assertion")]
			if !ok || r.PostFormValue("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
				fail(http.StatusUnauthorized, "invalid_client")
				return
			}
			resp["access_token"] = "token of " + id
		case "urn:ietf:params:oauth:grant-type:token-exchange":
			if id, secret, _ := r.BasicAuth(); id != "claims-api" || secret != "s3cret" {
				fail(http.StatusUnauthorized, "invalid_client")
				return
			}
			if r.PostFormValue("subject_token") != "partner-token" || r.PostFormValue("resource") != "https://files.gooclaim.com" {
				fail(http.StatusBadRequest, "invalid_grant")
				return
			}
			resp["access_token"] = "token of partner, acted by claims-api"
			resp["scope"] = r.PostFormValue("scope")
			resp["issued_token_type"] = "urn:ietf:params:oauth:token-type:access_token"
		default:
			fail(http.StatusBadRequest, "unsupported_grant_type")
			return
		}
		json.NewEncoder(w).Encode(resp)
	}))
}

// The workload's token file is read for every request: after the
// platform rotates it, the new token is the one sent.
func ExampleConfig_Token_federated() {
	first, second := "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIyIn0.c2ln"
	srv := newFederationExampleServer(map[string]string{first: "importer (first token)", second: "importer (rotated token)"})
	defer srv.Close()
	dir, err := os.MkdirTemp("", "tokens")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "gooclaim-auth")

	conf := &client.Config{
		TokenURL:           srv.URL + "/v1/auth/token",
		AuthStyle:          client.AuthFederatedJWT,
		FederatedTokenFile: path,
	}
	for _, tok := range []string{first, second} {
		os.WriteFile(path, []byte(tok), 0o600) // what the kubelet does
		t, err := conf.Token(context.Background())
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(t.AccessToken)
	}
	os.Remove(path)
	_, err = conf.Token(context.Background())
	fmt.Println(strings.Replace(err.Error(), path, "PATH", 1))
	// Output:
	// token of importer (first token)
	// token of importer (rotated token)
	// read the federated token file: open PATH: no such file or directory (is the token volume mounted, and FederatedTokenFile its path?)
}

// A service acting for its caller: it exchanges the caller's token for one
// that names the caller as subject and the service as actor ("act"), for
// another API (RFC 8693 delegation).
func ExampleConfig_Exchange() {
	srv := newFederationExampleServer(nil)
	defer srv.Close()

	conf := &client.Config{TokenURL: srv.URL + "/v1/auth/token", ClientID: "claims-api", ClientSecret: "s3cret"}
	tok, err := conf.Exchange(context.Background(), client.ExchangeRequest{
		SubjectToken:     "partner-token", // from the caller's Authorization header
		SubjectTokenType: client.TokenTypeAccessToken,
		Resource:         "https://files.gooclaim.com", // one of claims-api's exchange audiences
		Scopes:           []string{"files:read"},       // no more than the caller's token has
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tok.AccessToken)
	fmt.Println(tok.Extra("scope"), tok.Extra("issued_token_type"))
	// Output:
	// token of partner, acted by claims-api
	// files:read urn:ietf:params:oauth:token-type:access_token
}
