// A third-party OAuth client, oauth4webapi, against Gooclaim Auth: the
// client credentials grant with DPoP (RFC 9449), then a call to a resource
// server built on the verification kit with protectedResourceRequest.
// verify.TestOAuth4WebAPIDPoP starts both servers and runs this with
// ISSUER, CLIENT_ID, CLIENT_SECRET and API_URL set; it prints one JSON line.
import * as oauth from 'oauth4webapi'
import { webcrypto } from 'node:crypto'

// Node 18 (Debian's) has WebCrypto, but not as a global.
globalThis.crypto ??= webcrypto

const { ISSUER, CLIENT_ID, CLIENT_SECRET, API_URL } = process.env
const insecure = { [oauth.allowInsecureRequests]: true } // loopback http in the test

const issuer = new URL(ISSUER)
const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure))
const client = { client_id: CLIENT_ID }
const clientAuth = oauth.ClientSecretBasic(CLIENT_SECRET)
const DPoP = oauth.DPoP(client, await oauth.generateKeyPair('ES256'))

// A server may answer use_dpop_nonce: oauth4webapi keeps the nonce; retry once.
async function withNonceRetry(fn) {
  try {
    return await fn()
  } catch (err) {
    if (oauth.isDPoPNonceError(err)) return await fn()
    throw err
  }
}

const token = await withNonceRetry(async () => {
  const response = await oauth.clientCredentialsGrantRequest(as, client, clientAuth, new URLSearchParams({ scope: 'claims:read' }), { DPoP, ...insecure })
  return oauth.processClientCredentialsResponse(as, client, response)
})
if (token.token_type.toLowerCase() !== 'dpop') {
  throw new Error(`token_type ${token.token_type}, want DPoP: the server did not bind the token`)
}

// oauth4webapi throws on a 401 with a challenge (a use_dpop_nonce one is
// retried above, with the nonce it kept).
const response = await withNonceRetry(() =>
  oauth.protectedResourceRequest(token.access_token, 'GET', new URL(API_URL), new Headers(), null, { DPoP, ...insecure }))
const body = await response.text()
console.log(JSON.stringify({ token_type: token.token_type, status: response.status, body, challenge: response.headers.get('www-authenticate') }))
if (response.status !== 200) process.exit(1)
