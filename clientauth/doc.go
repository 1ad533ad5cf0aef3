// Package clientauth authenticates clients with private_key_jwt: a JWT
// client assertion signed with the client's own private key (RFC 7523 §2.2
// and §3, RFC 7521 §4.2), checked against the public keys the client
// registered, inline or at a jwks_uri the server fetches and caches. It
// knows neither HTTP routing nor SQL.
package clientauth
