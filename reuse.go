package auth

import "fmt"

// Token reuse settings (Client.TokenReuse): whether a token request that
// asks for what a live token of the client already grants gets that token
// again instead of a new signature (issue 19; see docs/policies.md).
const (
	// ReuseDefault follows the server's setting (serve --reuse-tokens).
	ReuseDefault = ""
	// ReuseOn reuses the client's tokens whatever the server's setting.
	ReuseOn = "on"
	// ReuseOff always signs a new token for the client.
	ReuseOff = "off"
)

// CheckTokenReuse checks a Client.TokenReuse: "" (the server's default),
// "on" or "off"; "default" is accepted and means "", "true" and "false"
// mean "on" and "off".
func CheckTokenReuse(s string) (string, error) {
	switch s {
	case "", "default":
		return ReuseDefault, nil
	case ReuseOn, "true":
		return ReuseOn, nil
	case ReuseOff, "false":
		return ReuseOff, nil
	}
	return "", fmt.Errorf("token reuse %q: want on (give a live token again while over half its lifetime is left), off (always sign a new one) or default (the server's setting)", s)
}

// ReusesTokens reports whether c's tokens are reused, given the server's
// default.
func (c *Client) ReusesTokens(serverDefault bool) bool {
	switch c.TokenReuse {
	case ReuseOn:
		return true
	case ReuseOff:
		return false
	}
	return serverDefault
}
