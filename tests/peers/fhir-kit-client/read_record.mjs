// fhir-kit-client (npm) reads one resident through Huitong's FHIR API, as a Node application would:
//   node read_record.mjs <FHIR base> <bearer token> <resident ID>
// It prints one JSON object: every resource it was given (search, read, vread, history, each page of the
// resident's Observations through the next links, each page of the resident's $everything). tests/fhir_api/test_clients.py checks and validates them.
import { Client } from 'fhir-kit-client';

const [base, token, residentId] = process.argv.slice(2);
const client = new Client({ baseUrl: base, bearerToken: token });

const statement = await client.capabilityStatement();
const found = await client.search({ resourceType: 'Patient', searchParams: { identifier: residentId } });
const patient = found.entry[0].resource;
const read = await client.read({ resourceType: 'Patient', id: patient.id });
const first = await client.vread({ resourceType: 'Patient', id: patient.id, version: '1' });
const history = await client.history({ resourceType: 'Patient', id: patient.id });

const pages = [];
let page = await client.search({ resourceType: 'Observation', searchParams: { patient: patient.id, _count: 2 } });
while (page) {
  pages.push(page);
  page = await client.nextPage({ bundle: page });
}

const everything = [];
let part = await client.operation({
  name: '$everything', resourceType: 'Patient', id: patient.id, method: 'get', input: { _count: 5 },
});
while (part) {
  everything.push(part);
  part = await client.nextPage({ bundle: part });
}

let refused = null;
try {
  await new Client({ baseUrl: base, bearerToken: 'not-a-token' }).read({ resourceType: 'Patient', id: patient.id });
} catch (error) {
  refused = { status: error.response?.status, body: error.response?.data };
}

console.log(JSON.stringify({ statement, found, read, first, history, pages, everything, refused }));
