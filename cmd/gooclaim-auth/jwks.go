package main

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"github.com/go-jose/go-jose/v4"
	"github.com/spf13/cobra"

	"github.com/gooclaim/auth/clientauth"
)

// newJWKSCmd prints the public JWK Set of a key, which is what a
// private_key_jwt client registers (clients create --jwks-file).
func newJWKSCmd(e *env) *cobra.Command {
	var keyFile, kid, alg string
	cmd := &cobra.Command{
		Use:   "jwks --key-file F --key-id KID",
		Short: "Print the public JWK Set of a PEM key, to register a private_key_jwt client",
		Long: `Print the public JWK Set (RFC 7517) of a PEM key, ready for
clients create --jwks-file. The key may be public or private; only the public
half is ever printed.`,
		Example: `  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out signer.pem
  gooclaim-auth jwks --key-file signer.pem --key-id signer-1 > signer-public.jwks.json
  gooclaim-auth clients create --name signer --scope claims:read --jwks-file signer-public.jwks.json
  gooclaim-auth token --issuer http://localhost:8080 --client-id gooclaim_app_… --private-key-file signer.pem --key-id signer-1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if keyFile == "" || kid == "" {
				return errors.New("--key-file and --key-id are required")
			}
			pub, err := readPublicKey(keyFile)
			if err != nil {
				return err
			}
			jwk := jose.JSONWebKey{Key: pub, KeyID: kid, Algorithm: alg, Use: "sig"}
			set, err := jwk.MarshalJSON()
			if err != nil {
				return fmt.Errorf("%s: %w", keyFile, err)
			}
			doc := []byte(`{"keys":[` + string(set) + `]}`)
			if err := clientauth.CheckJWKS(doc); err != nil {
				return fmt.Errorf("%s: %w", keyFile, err)
			}
			return writeJSON(e.stdout, jsonRaw(doc))
		},
	}
	cmd.Flags().StringVar(&keyFile, "key-file", "", "PEM key: PUBLIC KEY, or a private key (PKCS #8, SEC 1, PKCS #1) whose public half is printed")
	cmd.Flags().StringVar(&kid, "key-id", "", "kid to give the key; the client sends it in its assertions' header")
	cmd.Flags().StringVar(&alg, "alg", "", "algorithm to pin the key to (default: the one its type implies, RS256 for RSA)")
	return cmd
}

// jsonRaw lets writeJSON indent a document already encoded.
type jsonRaw []byte

func (j jsonRaw) MarshalJSON() ([]byte, error) { return j, nil }

func readPublicKey(path string) (crypto.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block != nil && block.Type == "PUBLIC KEY" {
		return x509.ParsePKIXPublicKey(block.Bytes)
	}
	priv, err := readPrivateKey(path)
	if err != nil {
		return nil, err
	}
	return priv.Public(), nil
}
