package issuer

// GrantScopeForTest exposes grantScope to the external tests.
var GrantScopeForTest = grantScope
