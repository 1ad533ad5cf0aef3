package client_test

import (
	"context"
	"crypto/tls"
	"log"

	"github.com/gooclaim/auth/client"
)

// A client whose tokens are DPoP-bound (RFC 9449): a key is generated for
// the Config, every token request and every API call carries a new proof
// of it, and a stolen token is useless without the key.
func ExampleConfig_dPoP() {
	cfg := &client.Config{
		Issuer:       "https://auth.gooclaim.com",
		ClientID:     "gooclaim_app_claims-importer",
		ClientSecret: "…", // or AuthPrivateKeyJWT, AuthFederatedJWT
		DPoP:         true,
	}
	hc := cfg.Client(context.Background()) // Authorization: DPoP <token>, and a DPoP proof
	resp, err := hc.Get("https://claims.gooclaim.com/v1/claims")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
}

// A client that authenticates with its certificate (RFC 8705 tls_client_auth):
// no secret; the token is bound to the certificate, which Config.Client
// presents to the APIs as well.
func ExampleConfig_mutualTLS() {
	cert, err := tls.LoadX509KeyPair("client.crt", "client.key")
	if err != nil {
		log.Fatal(err)
	}
	cfg := &client.Config{
		Issuer:         "https://auth.gooclaim.com",
		ClientID:       "gooclaim_app_claims-importer",
		AuthStyle:      client.AuthTLSClientAuth, // or AuthSelfSignedTLSClientAuth
		TLSCertificate: &cert,
	}
	resp, err := cfg.Client(context.Background()).Get("https://claims.gooclaim.com/v1/claims")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
}
