// A re-implementation of the GBIF Metabarcoding Data Toolkit (MDT) classifier client
// (gbif/metabarcoding-data-toolkit-backend, classifier/index.js: assignTaxonomy → blastAll → blastBatch),
// written from reading it, to check that edna-search's blast-ws compatible `/blast/batch` serves it.
// Node ≥ 18, no packages (global fetch instead of axios, a small limiter instead of p-limit).
//
// What it reproduces, and how MDT does it:
// - markers: only coi, its, its1, its2, 16s, 12s, 18s (compared lower-cased; anything else is refused
//   before any request); the marker is sent as given;
// - ASVs in chunks of 25, each chunk one `POST {service}/blast/batch` with `{marker, sequence: [...]}`,
//   at most 4 chunks in flight, no timeout;
// - a chunk whose request fails (network error, non-2xx status, a body that is not a JSON array) puts all
//   its ASVs in an error map; after each round the error map is classified again, immediately (no delay,
//   `Retry-After` is not read), for at most 5 more rounds; what is left is reported as
//   "Failed to match N of M sequences";
// - answer i belongs to ASV i of the chunk; an answer without a truthy `matchType` is skipped silently (MDT
//   fills a sparse array, whose holes `forEach` skips), and so is an ASV without an answer;
// - each answer with a matchType goes through the GBIF name match (`species/match2?name=<name>`), at most 25
//   at once; MDT keeps `nubMatch` only when the usage rank is SPECIES or UNRANKED and its name (or the
//   classification's species) equals `name`. Offline (no --gbif), the match finds nothing, as it does for
//   a name GBIF does not know; with --gbif URL (GBIF API base ending in /) it is really asked. A failing
//   name match makes MDT drop the answer (its decorate function returns undefined), reproduced too;
// - per answer, the ASV's ranks are wiped and rewritten from nubMatch; scientificName = `name` for
//   BLAST_EXACT_MATCH, the genus (nubMatch) or the first word of `name` for BLAST_CLOSE_MATCH, '' otherwise;
// - a taxonomy.tsv row per answer: id, matchType, bitScore, expectValue, qcovs (each '' unless a number),
//   the 7 ranks, name, querySequence (the answer's aligned query, not the input: MDT writes that field).
//
// Usage: node classify.mjs --service http://127.0.0.1:8080 --marker 12s --fasta asvs.fasta --out taxonomy.tsv
//          [--gbif https://api.gbif.org/v1/] [--inject-failures N]
// --inject-failures N makes the first N batch calls fail before sending (as MDT's commented-out test hook
// does), to exercise the retry rounds. Prints one JSON summary on stdout.

import fs from 'node:fs';

const BATCH = 25;
const BLAST_CONCURRENCY = 4;
const NAME_MATCH_CONCURRENCY = 25;
const RETRY_ROUNDS = 5;
const RANKS = ['kingdom', 'phylum', 'class', 'order', 'family', 'genus', 'species'];
const HEADERS = ['id', 'matchType', 'bitScore', 'expectValue', 'queryCoverage', ...RANKS, 'scientificName', 'DNA_sequence'];
const SUPPORTED = ['coi', 'its', 'its1', 'its2', '16s', '12s', '18s'];

function args(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith('--')) throw new Error(`unexpected argument ${argv[i]}`);
    out[argv[i].slice(2)] = argv[i + 1];
  }
  return out;
}

// p-limit's contract: at most `n` calls of the wrapped functions run at once, the rest wait in order.
function limiter(n) {
  let active = 0;
  const queue = [];
  const next = () => {
    if (active >= n || !queue.length) return;
    active++;
    const { fn, argsList, resolve, reject } = queue.shift();
    Promise.resolve()
      .then(() => fn(...argsList))
      .then(resolve, reject)
      .finally(() => { active--; next(); });
  };
  return (fn, ...argsList) => new Promise((resolve, reject) => { queue.push({ fn, argsList, resolve, reject }); next(); });
}

function readFasta(file) {
  const taxa = new Map();
  let id = null;
  for (const raw of fs.readFileSync(file, 'utf8').split(/\r?\n/)) {
    const line = raw.trim();
    if (line.startsWith('>')) { id = line.slice(1).split(/\s+/)[0]; taxa.set(id, { id, DNA_sequence: '' }); }
    else if (line && id !== null) taxa.get(id).DNA_sequence += line;
  }
  return taxa;
}

const opt = args(process.argv.slice(2));
const service = (opt.service || '').replace(/\/$/, '');
const stats = { requests: 0, injected: 0, failedRequests: 0, statuses: {}, inFlight: 0, maxInFlight: 0, maxBatch: 0, rounds: 0, skippedNoMatchType: 0, droppedByNameMatch: 0, answers: 0, answerCountMismatches: 0 };
let toInject = Number(opt['inject-failures'] || 0);
const nameMatchLimit = limiter(NAME_MATCH_CONCURRENCY);

// GBIF name match, keeping MDT's acceptance rule. Returns undefined when the lookup fails (as MDT does).
async function decorate(e) {
  try {
    if (!opt.gbif) return e; // offline: the name match finds no species usage
    const res = await fetch(`${opt.gbif}species/match2?name=${encodeURIComponent(e.name)}`);
    if (!res.ok) throw new Error(`name match: ${res.status}`);
    const nub = await res.json();
    if (['UNRANKED', 'SPECIES'].includes(nub?.usage?.rank)) {
      const species = nub.classification.find((t) => t.rank === 'SPECIES');
      if (species?.name === e.name || nub?.usage?.name === e.name) e.nubMatch = nub;
    }
    return e;
  } catch (err) {
    stats.droppedByNameMatch++;
    return undefined;
  }
}

async function blastBatch(sequences, ids, marker) {
  stats.requests++;
  stats.maxBatch = Math.max(stats.maxBatch, sequences.length);
  if (toInject > 0) { toInject--; stats.injected++; throw new Error('injected failure'); }
  stats.inFlight++;
  stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
  let data;
  try {
    const res = await fetch(`${service}/blast/batch`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ marker, sequence: sequences }) });
    stats.statuses[res.status] = (stats.statuses[res.status] || 0) + 1;
    const body = await res.text();
    if (!res.ok) throw new Error(`HTTP ${res.status}: ${body.slice(0, 200)}`);
    data = JSON.parse(body);
  } finally {
    stats.inFlight--;
  }
  if (!Array.isArray(data)) throw new Error('answer is not an array'); // MDT: data.map is not a function
  stats.answers += data.length;
  if (data.length !== sequences.length) stats.answerCountMismatches++;
  const result = new Array(data.length); // sparse, as in MDT: unanswered slots stay holes
  await Promise.all(data.map(async (m, i) => {
    if (m?.matchType) result[i] = await nameMatchLimit(decorate, { ...m, id: ids[i] });
    else stats.skippedNoMatchType++;
  }));
  return result;
}

function assign(entryMap, m) {
  const entry = entryMap.get(m?.id);
  const taxonomy = {};
  for (const t of m?.nubMatch?.classification || []) if (t?.rank) taxonomy[t.rank.toLowerCase()] = t;
  if (entry) {
    for (const r of RANKS) entry[r] = taxonomy[r]?.name || '';
    if (m.matchType === 'BLAST_EXACT_MATCH') entry.scientificName = m.name;
    else if (m.matchType === 'BLAST_CLOSE_MATCH') {
      entry.scientificName = m.nubMatch?.classification
        ? (taxonomy.genus?.name || taxonomy.family?.name || taxonomy.order?.name || taxonomy.class?.name || taxonomy.phylum?.name || taxonomy.kingdom?.name)
        : (m.name?.split(' ')?.[0] || '');
    } else entry.scientificName = '';
  }
  if (m?.id) entryMap.set(m.id, entry);
}

const cell = (x) => (!isNaN(x) ? x : '');
function row(m) {
  const taxonomy = {};
  for (const t of m?.nubMatch?.classification || []) if (t?.rank) taxonomy[t.rank.toLowerCase()] = t;
  const ranks = RANKS.map((r) => taxonomy[r]?.name || '').join('\t');
  return `${m?.id}\t${m?.matchType}\t${cell(m?.bitScore)}\t${cell(m?.expectValue)}\t${cell(m?.qcovs)}\t${ranks}\t${m?.name || ''}\t${m?.querySequence}\n`;
}

// One round over `taxa`, then the retry rounds over what failed (MDT passes the error map as both).
async function blastAll(taxa, marker, out, errored, retries) {
  stats.rounds++;
  const limit = limiter(BLAST_CONCURRENCY);
  const values = [...taxa.values()];
  const chunks = [];
  for (let i = 0; i < values.length; i += BATCH) chunks.push(values.slice(i, i + BATCH));
  await Promise.all(chunks.map(async (chunk) => {
    try {
      const res = await limit(blastBatch, chunk.map((e) => e.DNA_sequence), chunk.map((e) => e.id), marker);
      res.forEach((m) => {
        assign(taxa, m);
        out.write(row(m));
        if (errored.has(m?.id)) errored.delete(m.id);
      });
    } catch (err) {
      stats.failedRequests++;
      stats.lastError = String(err?.message || err);
      for (const e of chunk) errored.set(e.id, e);
    }
  }));
  if (errored.size > 0 && retries > 0) await blastAll(errored, marker, out, errored, retries - 1);
  return { errors: errored.size > 0 ? [`Failed to match ${errored.size} of ${taxa.size} sequences`] : [] };
}

async function main() {
  const marker = opt.marker || '';
  const taxa = readFasta(opt.fasta);
  const lines = [];
  const out = { write: (s) => lines.push(s) };
  let result;
  if (!SUPPORTED.includes(marker.toLowerCase())) {
    result = { errors: ['unsupported marker'] }; // MDT throws before any request
  } else {
    out.write(HEADERS.join('\t') + '\n');
    result = await blastAll(taxa, marker, out, new Map(), RETRY_ROUNDS);
  }
  if (opt.out) fs.writeFileSync(opt.out, lines.join(''));
  const entries = [...taxa.values()].map(({ DNA_sequence, ...rest }) => rest);
  process.stdout.write(JSON.stringify({ marker, total: taxa.size, rows: Math.max(0, lines.length - 1), ...result, stats, entries }) + '\n');
}

main().catch((err) => { console.error(err); process.exit(1); });
