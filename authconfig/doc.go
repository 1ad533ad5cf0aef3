// Package authconfig is the file format of declarative configuration: a
// YAML (or JSON) document that describes the clients and trusted issuers a
// Gooclaim Auth server should have. `gooclaim-auth plan -f FILE` shows how
// the database differs from it, `apply` makes the database match it, and
// `export` writes the current state in the same format.
//
// This package reads and writes the format only: Parse turns a file into
// auth.Client and auth.TrustedIssuer settings, with every problem of the
// file reported at once, each with its line; Export writes the settings of
// stored objects; Schema is the JSON Schema of the format, for editors and
// CI. Whether the settings make sense (scope syntax, URL schemes, key
// types, issuers that exist) is checked where they are used, not here.
//
// A document, every field shown (testdata/full.yaml is a complete one):
//
//	apiVersion: gooclaim.com/auth/v1   # required, exactly this
//	kind: AuthConfig                   # required, exactly this
//	issuers:                           # trusted issuers (federation)
//	  - name: k8s-prod                 # required: the issuer's Name
//	    issuer: https://kubernetes.default.svc   # required: its "iss"
//	    jwks_uri: https://…            # or jwks: a JWK Set, as a mapping or a JSON string;
//	                                   # neither: OpenID discovery
//	    audience: …                    # the "aud" its tokens carry; absent: this server
//	    max_token_age: 1h              # a duration; absent or 0: the default (1h)
//	    disabled: true                 # absent: false
//	    adopt: true                    # take over an issuer of that name made by hand
//	clients:
//	  - client_id: billing-sync        # required
//	    name: Billing sync
//	    scopes: [claims:read]
//	    audiences: [https://api.gooclaim.com]   # the first is the default
//	    token_ttl: 15m                 # a duration; absent or 0: the server's default
//	    rate_limit: 100/1m             # LIMIT/WINDOW; absent: the server's default
//	    quotas: [1000/1h, 10000/1d]    # tokens per fixed UTC window; absent: the server's default
//	    quota_mode: warn               # enforce (the default) or warn
//	    claims: {tenant: client.metadata.tenant}  # claim names to CEL expressions (docs/policies.md)
//	    condition: 'ip_in(request.remote_ip, ["10.0.0.0/8"])'  # CEL; must be true for a token
//	    token_reuse: on                # on, off or default (the server's, serve --reuse-tokens)
//	    auth_methods: [client_secret_basic]     # absent: every method its credentials allow
//	    jwks: {keys: [...]}            # or jwks_uri: URL (private_key_jwt)
//	    metadata: {owner: claims-team} # names to values; a number or boolean is taken as written
//	    disabled: true
//	    federated:                     # subjects of trusted issuers, by the issuer's name
//	      - {issuer: k8s-prod, subject: "system:serviceaccount:claims:billing"}
//	      - k8s-prod=system:serviceaccount:claims:other   # the same, as the CLI writes it
//	    exchange_audiences: [https://api.gooclaim.com]
//	    dpop_bound_access_tokens: true
//	    tls_client_certificate_bound_access_tokens: true
//	    tls_client_auth_subject_dn: "CN=billing,O=Gooclaim"   # or one of tls_client_auth_san_dns,
//	                                   # _san_uri, _san_ip, _san_email
//	    secret:                        # absent: the client has no secret
//	      generate: true               # exactly one of generate: true, from_file: PATH, from_env: VAR
//	    adopt: true                    # take over a client of that ID made by hand
//
// The field names are those of the admin API (admin.ClientView,
// admin.IssuerView). Durations are read by auth.ParseDuration ("90d",
// "36h", "15m", "30s"), rates by auth.ParseRate ("100/1m").
//
// A secret is never in the file: `generate: true` says the client has one
// (the one it has, or one generated at apply), `from_file` and `from_env`
// name where apply reads it.
//
// The reading is strict, so that a typing mistake is never a silent
// default: unknown fields, a value of the wrong type (a single string where
// a list is wanted, a number where a string is wanted), a field given
// twice, a second YAML document, and anchors and aliases are problems.
// Optional fields may be left out; a list or mapping may be empty or null,
// which is the same as leaving it out.
package authconfig
