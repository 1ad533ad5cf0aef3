package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gooclaim/auth/client"
)

// exampleServer stands in for Gooclaim Auth in the examples: RFC 8414
// metadata and a token endpoint that knows one client, "claims-importer"
// with the secret "s3cret", and counts its token requests.
type exampleServer struct {
	*httptest.Server
	tokenRequests atomic.Int32
}

func newExampleServer() *exampleServer {
	s := &exampleServer{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{
			"issuer": s.URL, "token_endpoint": s.URL + "/v1/auth/token", "jwks_uri": s.URL + "/.well-known/jwks.json",
			"grant_types_supported":                 []string{"client_credentials"},
			"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		})
	})
	mux.HandleFunc("POST /v1/auth/token", func(w http.ResponseWriter, r *http.Request) {
		n := s.tokenRequests.Add(1)
		w.Header().Set("Content-Type", "application/json")
		id, secret, _ := r.BasicAuth()
		id, _ = url.QueryUnescape(id) // RFC 6749 §2.3.1
		secret, _ = url.QueryUnescape(secret)
		if id != "claims-importer" || secret != "s3cret" {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":"invalid_client","error_description":"client authentication failed"}`)
			return
		}
		scope := r.PostFormValue("scope")
		if scope == "" {
			scope = "claims:read claims:write"
		}
		json.NewEncoder(w).Encode(map[string]any{
			"access_token": fmt.Sprintf("token-%d", n), "token_type": "Bearer", "expires_in": 3600, "scope": scope,
		})
	})
	s.Server = httptest.NewServer(mux)
	return s
}

// A service calling Gooclaim's APIs in production: the token endpoint is
// found from the issuer, the secret comes from the environment, and the
// client is made once and shared.
func Example() {
	conf := &client.Config{
		Issuer:       "https://auth.gooclaim.com",
		ClientID:     os.Getenv("GOOCLAIM_CLIENT_ID"),
		ClientSecret: os.Getenv("GOOCLAIM_CLIENT_SECRET"),
		Scopes:       []string{"claims:read"},
		Audience:     "https://api.gooclaim.com",
	}
	api := conf.Client(context.Background())

	resp, err := api.Get("https://api.gooclaim.com/v1/claims/C-1")
	if err != nil {
		log.Fatal(err) // a *client.Error if no token could be had
	}
	defer resp.Body.Close()
}

func ExampleConfig_TokenSource() {
	srv := newExampleServer()
	defer srv.Close()

	conf := &client.Config{
		TokenURL:     srv.URL + "/v1/auth/token",
		ClientID:     "claims-importer",
		ClientSecret: "s3cret",
		Scopes:       []string{"claims:read"},
	}
	src := conf.TokenSource(context.Background())
	for range 3 {
		tok, err := src.Token()
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(tok.AccessToken, tok.Extra("scope"), time.Until(tok.Expiry).Round(time.Hour))
	}
	fmt.Println("token requests:", srv.tokenRequests.Load())
	// Output:
	// token-1 claims:read 1h0m0s
	// token-1 claims:read 1h0m0s
	// token-1 claims:read 1h0m0s
	// token requests: 1
}

func ExampleConfig_Client() {
	srv := newExampleServer()
	defer srv.Close()
	// A Gooclaim API, which here only echoes the credentials it was sent.
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s with %q", r.Method, r.URL.Path, r.Header.Get("Authorization"))
	}))
	defer api.Close()

	conf := &client.Config{Issuer: srv.URL, ClientID: "claims-importer", ClientSecret: "s3cret"}
	hc := conf.Client(context.Background())
	resp, err := hc.Get(api.URL + "/v1/claims/C-1")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(string(body))
	// Output:
	// GET /v1/claims/C-1 with "Bearer token-1"
}

func ExampleConfig_Token() {
	srv := newExampleServer()
	defer srv.Close()

	conf := &client.Config{
		TokenURL:     srv.URL + "/v1/auth/token",
		ClientID:     "claims-importer",
		ClientSecret: "s3cret",
		MaxRetries:   2,  // at most 3 requests
		ExpirySkew:   -1, // (not used by Token, which does not cache)
		MinBackoff:   50 * time.Millisecond,
	}
	tok, err := conf.Token(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tok.Type(), tok.AccessToken, tok.Extra("scope"))
	// Output:
	// Bearer token-1 claims:read claims:write
}

func ExampleDiscover() {
	srv := newExampleServer()
	defer srv.Close()

	md, err := client.Discover(context.Background(), srv.URL, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(strings.TrimPrefix(md.TokenEndpoint, srv.URL))
	fmt.Println(md.GrantTypesSupported, md.TokenEndpointAuthMethodsSupported)
	// Output:
	// /v1/auth/token
	// [client_credentials] [client_secret_basic client_secret_post]
}

func ExampleError() {
	srv := newExampleServer()
	defer srv.Close()

	conf := &client.Config{TokenURL: srv.URL + "/v1/auth/token", ClientID: "claims-importer", ClientSecret: "wrong"}
	_, err := conf.Token(context.Background())
	var e *client.Error
	if errors.As(err, &e) {
		fmt.Println(e.StatusCode, e.Code)
		fmt.Println(err)
	}
	fmt.Println("token requests:", srv.tokenRequests.Load()) // a wrong secret is not retried
	// Output:
	// 401 invalid_client
	// token endpoint answered 401 Unauthorized: invalid_client: client authentication failed
	// token requests: 1
}
