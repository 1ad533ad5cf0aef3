package verify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/signing"
	"github.com/gooclaim/auth/verify"
)

func ExampleVerifier_Verify() {
	ctx := context.Background()

	// A tiny authorization server: one ES256 key, published as a JWK Set
	// with RFC 8414 metadata pointing at it.
	kek, _ := signing.ParseKEK([]byte("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="))
	key, _ := signing.NewKey(auth.ES256, kek, time.Now(), time.Now())
	signer, _ := signing.NewSigner(key, kek)
	jwks, _ := signing.JWKS([]auth.Key{key})
	var issuer string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/.well-known/oauth-authorization-server":
			json.NewEncoder(w).Encode(map[string]string{"issuer": issuer, "jwks_uri": issuer + "/.well-known/jwks.json"})
		case "/.well-known/jwks.json":
			w.Write(jwks)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	issuer = srv.URL

	// The resource server's verifier: it discovers and fetches the keys.
	v, err := verify.New(ctx, verify.Config{Issuer: issuer, Audience: "https://api.gooclaim.com"})
	if err != nil {
		log.Fatal(err)
	}

	// A token as Gooclaim Auth issues it.
	now := time.Now()
	claims, _ := json.Marshal(auth.Claims{
		Issuer: issuer, Subject: "claims-importer", ClientID: "claims-importer",
		Audience: auth.Audience{"https://api.gooclaim.com"}, Scope: "claims:read claims:write",
		IssuedAt: now.Unix(), Expiry: now.Add(time.Hour).Unix(), JWTID: "qAV6Ay24sXVPBNyONyNqOA",
	})
	token, _ := signer.Sign(claims)
	c, err := v.Verify(ctx, token)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.Subject, c.Scopes, c.HasScope("claims:write"))

	// The same claims signed by the same key as a plain JWT (typ "JWT", as
	// an ID token would be) are not an access token.
	other, _ := signer.SignWithType("JWT", claims)
	_, err = v.Verify(ctx, other)
	fmt.Println(err)

	// Output:
	// claims-importer [claims:read claims:write] true
	// invalid_token: the token's typ 'JWT' is not at+jwt: not an access token (RFC 9068 §4)
}

func ExampleVerifier_Middleware() {
	issuer, sign, stop := exampleIssuer()
	defer stop()
	v, err := verify.New(context.Background(), verify.Config{Issuer: issuer, Audience: "https://api.gooclaim.com"})
	if err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := verify.FromContext(r.Context())
		fmt.Fprintf(w, "hello %s", c.ClientID)
	})
	mux.Handle("GET /claims", v.Middleware("claims:read")(hello))
	mux.Handle("DELETE /claims", v.Middleware("claims:admin")(hello))

	do := func(method, token string) {
		req := httptest.NewRequest(method, "/claims", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		if challenge := rec.Header().Get("WWW-Authenticate"); challenge != "" {
			fmt.Println(rec.Code, challenge)
		} else {
			fmt.Println(rec.Code, rec.Body)
		}
	}
	token := sign("claims-importer", "claims:read")
	do("GET", "")
	do("GET", token)
	do("DELETE", token)
	do("GET", "not-a-token")

	// Output:
	// 401 Bearer realm="gooclaim"
	// 200 hello claims-importer
	// 403 Bearer realm="gooclaim", error="insufficient_scope", error_description="the token lacks the scope claims:admin", scope="claims:admin"
	// 401 Bearer realm="gooclaim", error="invalid_token", error_description="the token has 1 part, not the 3 of a signed JWT"
}

// Example shows a resource server's wiring; it does not run.
func Example() {
	ctx := context.Background()
	v, err := verify.New(ctx, verify.Config{
		Issuer:   "https://auth.gooclaim.com",
		Audience: "https://api.gooclaim.com",
	})
	if err != nil {
		log.Fatal(err) // the issuer's metadata or keys cannot be fetched
	}
	mux := http.NewServeMux()
	mux.Handle("GET /v1/claims/{id}", v.Middleware("claims:read")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := verify.FromContext(r.Context())
		log.Printf("claim %s read by %s", r.PathValue("id"), c.ClientID)
	})))
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		st := v.Stats()
		json.NewEncoder(w).Encode(map[string]any{"keys": st.Keys, "keys_fetched": st.KeysFetched, "last_error": fmt.Sprint(st.LastError)})
	})
	log.Fatal(http.ListenAndServe(":8081", mux))
}

// ExampleIntrospection shows the online check: tokens are also checked
// with the authorization server's introspection endpoint (found in its
// metadata), so that a revoked token is refused within CacheTTL. It does
// not run.
func ExampleIntrospection() {
	ctx := context.Background()
	v, err := verify.New(ctx, verify.Config{
		Issuer:   "https://auth.gooclaim.com",
		Audience: "https://api.gooclaim.com",
		Introspection: &verify.Introspection{
			// A client of Gooclaim Auth holding the scope auth:introspect.
			ClientID:     "claims-api-introspector",
			ClientSecret: os.Getenv("INTROSPECTION_CLIENT_SECRET"),
			// A revoked token keeps working for at most this long.
			CacheTTL: 5 * time.Second,
		},
	})
	if err != nil {
		log.Fatal(err) // the metadata, the keys or the introspection endpoint cannot be found
	}
	mux := http.NewServeMux()
	// Middleware makes the online check too: a token not in the cache
	// costs a round trip to the authorization server, and while that
	// server cannot answer, such tokens are refused (401).
	mux.Handle("GET /v1/claims/{id}", v.Middleware("claims:read")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := verify.FromContext(r.Context())
		log.Printf("claim %s read by %s", r.PathValue("id"), c.ClientID)
	})))
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		st := v.Stats()
		json.NewEncoder(w).Encode(map[string]any{
			"keys": st.Keys, "introspections": st.Introspections,
			"introspection_cache_hits": st.IntrospectionCacheHits, "introspection_failures": st.IntrospectionFailures,
		})
	})
	log.Fatal(http.ListenAndServe(":8081", mux))
}

// exampleIssuer serves a one-key JWK Set and its metadata, and returns a
// function that issues tokens for a client with some scopes.
func exampleIssuer() (issuer string, sign func(client, scope string) string, stop func()) {
	kek, _ := signing.ParseKEK([]byte("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="))
	key, _ := signing.NewKey(auth.EdDSA, kek, time.Now(), time.Now())
	signer, _ := signing.NewSigner(key, kek)
	jwks, _ := signing.JWKS([]auth.Key{key})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/.well-known/oauth-authorization-server":
			json.NewEncoder(w).Encode(map[string]string{"issuer": issuer, "jwks_uri": issuer + "/.well-known/jwks.json"})
		case "/.well-known/jwks.json":
			w.Write(jwks)
		default:
			http.NotFound(w, r)
		}
	}))
	issuer = srv.URL
	sign = func(client, scope string) string {
		now := time.Now()
		claims, _ := json.Marshal(auth.Claims{
			Issuer: issuer, Subject: client, ClientID: client, Audience: auth.Audience{"https://api.gooclaim.com"},
			Scope: scope, IssuedAt: now.Unix(), Expiry: now.Add(time.Hour).Unix(), JWTID: "j",
		})
		token, _ := signer.Sign(claims)
		return token
	}
	return issuer, sign, srv.Close
}
