// Runs the Digital Credentials Consortium's verifier-core (the library under the Learner Credential Wallet and
// VerifierPlus) on credentials this project issued, for the tests in tests/test_outside_verifiers.py.
//
// stdin:  {"origin": "http://127.0.0.1:<port>", "files": {"<url>": "<local path>"}, "credentials": [<VC>, ...]}
// stdout: [<verifier-core's result for each credential>, ...] as JSON
//
// What is theirs: verifyCredential() with its own document loader (its bundled JSON-LD contexts, its did:web
// driver), its own signature suites (eddsa-rdfc-2022, ed25519-signature-2020), its Bitstring Status List check and
// its schema check. verifier-core takes no document loader or DID resolver as an argument: both are built inside
// the module from @digitalcredentials/security-document-loader and every request goes out through fetch().
//
// What is ours: only the network under that fetch(), so that nothing comes from the internet:
//   - did:web turns did:web:127.0.0.1%3A<port>:orgs:<id> into https://127.0.0.1:<port>/orgs/<id>/did.json, as
//     the did:web method says. The test server speaks plain HTTP, so for exactly the test server's origin the
//     https:// is swapped for http://. Nothing else about the request changes.
//   - http://<origin>/... (our status list credential, named by the credential itself) goes to the test server.
//   - URLs listed in "files" (a context verifier-core does not bundle, the OB 3.0 JSON Schema its schema check
//     loads) are answered from the copies vendored in this repository.
//   - Any other request fails, so a test can never pass thanks to something fetched from the internet.
import { readFileSync } from 'node:fs';
import { verifyCredential } from '@digitalcredentials/verifier-core';

const input = JSON.parse(readFileSync(0, 'utf8'));
const origin = new URL(input.origin);
const files = input.files ?? {};
const realFetch = globalThis.fetch;
const fetched = [];

globalThis.fetch = async (resource, init) => {
  const request = new Request(resource, init);
  const url = new URL(request.url);
  fetched.push(url.href);
  if (files[url.href]) {
    return new Response(readFileSync(files[url.href]), { headers: { 'content-type': 'application/json' } });
  }
  if (url.host === origin.host && (url.protocol === 'https:' || url.protocol === 'http:')) {
    url.protocol = 'http:';
    return realFetch(new Request(url.href, request));
  }
  throw new TypeError(`outside-verifier harness: refusing to fetch ${url.href} (not the test server)`);
};

const results = [];
for (const credential of input.credentials) {
  fetched.length = 0;
  const result = await verifyCredential({ credential, knownDIDRegistries: [] });
  // Error objects do not survive JSON.stringify; keep their name and message.
  for (const error of result.errors ?? []) {
    if (error.stackTrace) error.stackTrace = String(error.stackTrace?.message ?? error.stackTrace).slice(0, 500);
  }
  delete result.credential;  // the caller has it
  results.push({ ...result, fetched: [...fetched] });
}
process.stdout.write(JSON.stringify(results));
