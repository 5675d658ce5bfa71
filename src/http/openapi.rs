//! `GET /openapi.json`: a hand-written OpenAPI 3.0 description of the service (a generator crate would add
//! more build time than this one document is worth).

use axum::Json;
use serde_json::{json, Value};

fn err(desc: &str) -> Value {
    json!({"description": desc, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

fn ok(desc: &str, schema: Value) -> Value {
    json!({"description": desc, "content": {"application/json": {"schema": schema}}})
}

fn r(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn qp(name: &str, desc: &str, schema: Value) -> Value {
    json!({"name": name, "in": "query", "description": desc, "schema": schema})
}

fn body(schema: Value) -> Value {
    json!({"required": true, "content": {"application/json": {"schema": schema}}})
}

/// Errors every search endpoint may answer.
fn search_errors(compat: bool) -> Vec<(&'static str, Value)> {
    let mut v = vec![
        ("400", err("Malformed JSON or a bad parameter")),
        ("413", err("Body over the JSON limit, or more sequences than the batch limit")),
        ("408", err("The request body did not arrive within the body timeout (`request_timeout`)")),
        ("415", err("Content-Type is not application/json")),
        ("503", err("All search slots taken (`Server busy, please try again later`, with Retry-After) or the request timed out (`timeout`)")),
    ];
    v.push((
        "422",
        err(if compat {
            "`No marker given`, `Unsupported marker` or `No sequence given` (blast-ws texts, kept verbatim)"
        } else {
            "No sequence given, or a marker the index does not have"
        }),
    ));
    v
}

fn responses(main: (&str, Value), extra: Vec<(&'static str, Value)>) -> Value {
    let mut m = serde_json::Map::new();
    m.insert(main.0.to_string(), main.1);
    for (k, v) in extra {
        m.insert(k.to_string(), v);
    }
    Value::Object(m)
}

/// `{"type": "object", "properties": {name: {"type": t}}}` from pairs.
fn typed(pairs: &[(&str, &str)]) -> serde_json::Map<String, Value> {
    pairs.iter().map(|(k, t)| (k.to_string(), json!({"type": t}))).collect()
}

fn occurrence_schema() -> Value {
    let mut props = typed(&[
        ("occurrenceID", "string"),
        ("datasetKey", "string"),
        ("datasetTitle", "string"),
        ("license", "string"),
        ("basisOfRecord", "string"),
        ("scientificName", "string"),
        ("taxonRank", "string"),
        ("taxonKey", "integer"),
        ("kingdom", "string"),
        ("phylum", "string"),
        ("class", "string"),
        ("order", "string"),
        ("family", "string"),
        ("genus", "string"),
        ("species", "string"),
        ("eventDate", "string"),
        ("decimalLatitude", "number"),
        ("decimalLongitude", "number"),
        ("countryCode", "string"),
        ("locality", "string"),
        ("organismQuantity", "number"),
        ("organismQuantityType", "string"),
        ("sampleSizeValue", "number"),
        ("sampleSizeUnit", "string"),
        ("materialSampleID", "string"),
        ("isSequenced", "boolean"),
    ]);
    props.insert(
        "dnaSequenceID".into(),
        json!({"type": "array", "items": {"type": "string"}}),
    );
    let mut dna = typed(&[
        ("nucleotideSequenceID", "string"),
        ("targetGene", "string"),
        ("sequence", "string"),
        ("sequenceLength", "integer"),
        ("invalid", "boolean"),
    ]);
    dna.insert(
        "assignedTaxon".into(),
        json!({"$ref": "#/components/schemas/TaxonRef", "description": "Not a GBIF field: the taxon this index assigned to the sequence"}),
    );
    props.insert(
        "nucleotideSequence".into(),
        json!({"type": "array", "items": {"type": "object", "properties": dna}}),
    );
    props.insert(
        "identity".into(),
        json!({"type": "number", "description": "Sequence searches: percent identity of its best sequence to the query"}),
    );
    json!({"type": "object", "description": "GBIF occurrence field names; absent values are omitted", "properties": props})
}

/// The OpenAPI document.
pub async fn document() -> Json<Value> {
    Json(spec())
}

fn spec() -> Value {
    let blast_body = json!({"type": "object", "properties": {
        "marker": {"type": "string", "description": "blast-ws marker (ITS, COI, 16S, 12S, 18S, rbcL; matched on the first 3 characters) or a library name", "example": "12S"},
        "sequence": {"type": "string", "description": "Query; characters outside the IUPAC alphabet are dropped"},
        "perc_identity": {"type": "number", "description": "Minimum identity in percent (default 80; at least 50)"},
        "max_target_seqs": {"type": "integer", "description": "Target records considered (default 5, at most 100)"},
        "verbose": {"type": "boolean", "description": "Also accepted as ?verbose=true, as in blast-ws"}}});
    let blast_batch_body = json!({"type": "object", "properties": {
        "marker": {"type": "string"},
        "sequence": {"type": "array", "items": {"type": "string"}, "description": "Queries (at most the server's batch limit, 10,000 by default)"},
        "perc_identity": {"type": "number"}}});
    let verbose = qp(
        "verbose",
        "Every other target as `alternatives` (else only the near-identical EXACT ones)",
        json!({"type": "boolean"}),
    );
    let mut doc = json!({
        "openapi": "3.0.3",
        "info": {
            "title": "edna-search",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Find where a DNA sequence has been found (GBIF occurrences) and what it is (reference-library taxa). \
                Drop-in compatible with GBIF's blast-ws (/blast, /blast/batch) and sequence-search-ws (/search, /databases). \
                Every error is JSON {\"error\", \"message\"}. Identities in answers are percentages; identity parameters accept a fraction (≤ 1) or a percentage.",
            "license": {"name": "MIT OR Apache-2.0"}
        }
    });
    let batch_search = json!({"post": {"summary": "Search a FASTA/FASTQ body of any size (up to 1 GB by default), results streamed in input order (`/v1/search/stream` is the same endpoint)",
        "parameters": [
            qp("format", "json (JSON lines, default), tsv or blast6; without it, the Accept header (application/x-ndjson, text/tab-separated-values, text/x-blast6)", json!({"type": "string", "enum": ["json", "tsv", "blast6"]})),
            qp("minIdentity", "Default 0.97", json!({"type": "number"})), qp("minCoverage", "Default 0.5", json!({"type": "number"})),
            qp("maxHits", "Default 100", json!({"type": "integer"})), qp("marker", "Only targets of this marker", json!({"type": "string"})),
            qp("target", "references, occurrences or all (default)", json!({"type": "string"})), qp("strand", "both (default) or plus", json!({"type": "string"})),
            qp("include", "taxon: add a consensus assignment per query (json)", json!({"type": "string"}))],
        "requestBody": {"required": true, "content": {"text/x-fasta": {"schema": {"type": "string"}}, "text/plain": {"schema": {"type": "string"}},
            "multipart/form-data": {"schema": {"type": "object", "description": "The first part with a filename (or named file, fasta or sequences) is the FASTA/FASTQ; other parts are ignored",
                "properties": {"file": {"type": "string", "format": "binary"}}}}}},
        "responses": {"200": {"description": "JSON lines (application/x-ndjson) or TSV; an error after the first byte (malformed record or form, body over the limit) ends the stream with an error line"},
            "400": err("A bad parameter, or a form without a boundary"), "413": err("Content-Length over the stream limit"), "415": err("Not a FASTA body or form upload"),
            "422": err("A marker the index does not have"), "503": err("All search slots taken")}}});
    let paths: Vec<(&str, Value)> = vec![
        (
            "/health",
            json!({"get": {"summary": "Liveness", "responses": {"200": ok("Always", json!({"type": "object", "properties": {"status": {"type": "string", "example": "ok"}}}))}}}),
        ),
        (
            "/ready",
            json!({"get": {"summary": "Readiness with index counts", "responses": {"200": ok("Index open", json!({"type": "object"})), "503": ok("Shutting down", json!({"type": "object"}))}}}),
        ),
        (
            "/metrics",
            json!({"get": {"summary": "Prometheus metrics", "responses": {"200": {"description": "Text exposition format", "content": {"text/plain": {}}}}}}),
        ),
        (
            "/openapi.json",
            json!({"get": {"summary": "This document", "responses": {"200": ok("OpenAPI 3.0", json!({"type": "object"}))}}}),
        ),
        (
            "/blast",
            json!({
                "post": {"tags": ["blast-ws"], "summary": "Best reference match of one sequence (blast-ws)", "parameters": [verbose],
                    "requestBody": body(blast_body),
                    "responses": responses(("200", ok("A Match, or {matchType: BLAST_NO_MATCH, sequenceLength}", json!({"oneOf": [r("BlastMatch"), r("NoMatch")]}))), search_errors(true))},
                "get": {"tags": ["blast-ws"], "summary": "Same as POST, with query parameters",
                    "parameters": [qp("marker", "Marker or library name", json!({"type": "string"})), qp("sequence", "Query", json!({"type": "string"})),
                        qp("perc_identity", "Minimum identity (percent)", json!({"type": "number"})), verbose],
                    "responses": responses(("200", ok("A Match", json!({"oneOf": [r("BlastMatch"), r("NoMatch")]}))), search_errors(true))}
            }),
        ),
        (
            "/blast/batch",
            json!({"post": {"tags": ["blast-ws"], "summary": "Best matches of many sequences, in input order (blast-ws)",
                "parameters": [qp("verbose", "As for /blast", json!({"type": "boolean"}))],
                "requestBody": body(blast_batch_body),
                "responses": responses(("200", ok("One Match (without sequenceLength) or {matchType: BLAST_NO_MATCH} per sequence", json!({"type": "array", "items": {"oneOf": [r("BlastMatch"), r("NoMatch")]}}))), search_errors(true))}}),
        ),
        (
            "/search",
            json!({"post": {"tags": ["sequence-search-ws"], "summary": "vsearch-style search against one database (sequence-search-ws)",
                "requestBody": body(r("SequenceSearchRequest")),
                "responses": responses(("200", ok("A Match for a string sequence, an array in input order for an array; `outformat: blast6` answers BLAST tabular text", json!({"oneOf": [r("VsearchMatch"), r("NoMatch"), {"type": "array", "items": {"oneOf": [r("VsearchMatch"), r("NoMatch")]}}]}))), search_errors(true))}}),
        ),
        (
            "/search/batch",
            json!({"post": {"tags": ["sequence-search-ws"], "summary": "Same as /search",
                "requestBody": body(r("SequenceSearchRequest")),
                "responses": responses(("200", ok("As /search", json!({"type": "array", "items": {"oneOf": [r("VsearchMatch"), r("NoMatch")]}}))), search_errors(true))}}),
        ),
        (
            "/databases",
            json!({"get": {"tags": ["sequence-search-ws"], "summary": "Reference libraries (also at /databases-available)",
                "responses": {"200": ok("Libraries", json!({"type": "array", "items": r("Database")}))}}}),
        ),
        (
            "/v1/index",
            json!({"get": {"summary": "Index metadata: generation and build id, counts, libraries, datasets, markers, seeds, format version",
                "responses": {"200": ok("Metadata", json!({"type": "object", "properties": {
                    "generation": {"type": "integer", "description": "1 for the index the service started with, +1 per reload"},
                    "buildId": {"type": "string", "description": "Hex of the index's table checksum: equal for byte-identical builds"},
                    "loadedAt": {"type": "integer", "description": "When this index was loaded, seconds since the Unix epoch"},
                    "formatVersion": {"type": "integer"}, "sequences": {"type": "integer"}, "referenceRecords": {"type": "integer"},
                    "occurrences": {"type": "integer"}}}))}}}),
        ),
        (
            "/admin/reload",
            json!({"post": {"tags": ["admin"], "summary": "Re-open the index file the service started with (e.g. after a rebuild or a symlink switch) and swap it in; requests in flight finish on the old index. SIGHUP does the same.",
                "security": [{"adminToken": []}],
                "parameters": [qp("verify", "header (default: what opening checks, O(1)) or full (every checksum and cross-reference)", json!({"type": "string", "enum": ["header", "full"]}))],
                "responses": {"200": ok("Swapped in", r("Reloaded")), "400": err("Bad verify parameter"),
                    "401": err("No bearer token"), "403": err("Wrong token (`forbidden`), or no token configured: admin endpoints disabled (`admin_disabled`)"),
                    "422": err("The new index does not open or verify (`index_refused`); the previous one keeps serving")}}}),
        ),
        (
            "/v1/search",
            json!({"post": {"summary": "Search sequences against references and occurrences",
                "requestBody": body(r("SearchRequest")),
                "responses": responses(("200", ok("Results in input order", json!({"type": "object", "properties": {"params": {"type": "object"}, "results": {"type": "array", "items": r("SearchResult")}}}))), search_errors(false))}}),
        ),
        ("/v1/search/batch", batch_search.clone()),
        ("/v1/search/stream", batch_search),
        (
            "/v1/validation/sequence",
            json!({"get": {"summary": "GBIF's sequence normaliser (same fields as api.gbif.org /v1/validation/sequence)",
                "parameters": [qp("sequence", "Raw sequence", json!({"type": "string"}))],
                "responses": {"200": ok("Normalisation result", r("Validation")), "400": err("No sequence")}}}),
        ),
        (
            "/v1/sequence/{nucleotideSequenceID}",
            json!({"get": {"summary": "A sequence by nucleotideSequenceID (or legacy dnaSequenceID): its reference records and occurrences",
                "parameters": [{"name": "nucleotideSequenceID", "in": "path", "required": true, "schema": {"type": "string", "pattern": "^[0-9a-f]{32}$"}}],
                "responses": {"200": ok("The sequence", json!({"type": "object"})), "400": err("Not 32 hex characters"), "404": err("Unknown")}}}),
        ),
        (
            "/v1/taxon/{key}",
            json!({"get": {"summary": "A taxon: name, rank, lineage, occurrence count",
                "parameters": [{"name": "key", "in": "path", "required": true, "schema": {"type": "integer"}}],
                "responses": {"200": ok("The taxon", r("Taxon")), "400": err("Not a number"), "404": err("Unknown")}}}),
        ),
        (
            "/v1/taxon",
            json!({"get": {"summary": "Taxa by name", "parameters": [qp("name", "Exact name, case-insensitive", json!({"type": "string"}))],
                "responses": {"200": ok("Matches", json!({"type": "object", "properties": {"count": {"type": "integer"}, "results": {"type": "array", "items": r("Taxon")}}})), "400": err("No name")}}}),
        ),
        (
            "/v1/dataset",
            json!({"get": {"summary": "Datasets (GBIF paging envelope)", "responses": {"200": ok("All datasets", json!({"type": "object"}))}}}),
        ),
        (
            "/v1/dataset/{key}",
            json!({"get": {"summary": "One dataset", "parameters": [{"name": "key", "in": "path", "required": true, "schema": {"type": "string"}}],
                "responses": {"200": ok("The dataset", json!({"type": "object"})), "404": err("Unknown")}}}),
        ),
        (
            "/v1/occurrence/search",
            json!({"get": {"summary": "Occurrences by sequence similarity, nucleotideSequenceID, taxon or dataset (GBIF paging envelope and field names). Criteria combine with AND.",
                "parameters": [
                    qp("sequence", "Occurrences whose sequence is similar to this one, most similar first (each with `identity`)", json!({"type": "string"})),
                    qp("by", "taxon: occurrences of the consensus taxon assigned to `sequence` from the references (published under it, or with a sequence assigned to it)", json!({"type": "string", "enum": ["sequence", "taxon"]})),
                    qp("minIdentity", "For `sequence` (default 0.97)", json!({"type": "number"})),
                    qp("minCoverage", "For `sequence` (default 0.5)", json!({"type": "number"})),
                    qp("nucleotideSequenceID", "Repeatable; also as nucleotideSequence.nucleotideSequenceID", json!({"type": "string"})),
                    qp("dnaSequenceID", "Legacy hash, repeatable", json!({"type": "string"})),
                    qp("nucleotideSequence.sequence", "Exact normalised sequence", json!({"type": "string"})),
                    qp("taxon", "Taxon name (any rank), repeatable; also as scientificName", json!({"type": "string"})),
                    qp("taxonKey", "Taxon key of this index, repeatable", json!({"type": "integer"})),
                    qp("assignedTaxon", "Taxon name assigned to the occurrence's sequence at build time from the reference libraries, repeatable", json!({"type": "string"})),
                    qp("assignedTaxonKey", "As assignedTaxon, by key", json!({"type": "integer"})),
                    qp("datasetKey", "Repeatable", json!({"type": "string"})),
                    qp("marker", "Target gene (canonicalised: 12S, COI, ITS, ...)", json!({"type": "string"})),
                    qp("country", "ISO country code, repeatable", json!({"type": "string"})),
                    qp("facet", "datasetKey, country, scientificName or marker; repeatable", json!({"type": "string"})),
                    qp("facetLimit", "Values per facet (default 10)", json!({"type": "integer"})),
                    qp("includeSequence", "false drops the sequences from the records", json!({"type": "boolean"})),
                    qp("limit", "Page size (default 20, at most 300)", json!({"type": "integer"})),
                    qp("offset", "Records to skip", json!({"type": "integer"}))],
                "responses": {"200": ok("A page", r("OccurrencePage")), "400": err("Bad parameter"), "422": err("Unknown marker"), "503": err("Busy or timed out")}}}),
        ),
    ];
    let schemas: Vec<(&str, Value)> = vec![
        (
            "Error",
            json!({"type": "object", "required": ["error", "message"], "properties": {
                "error": {"type": "string", "description": "Stable code, or blast-ws's exact text on the compatible endpoints"},
                "message": {"type": "string"}}}),
        ),
        (
            "NoMatch",
            json!({"type": "object", "properties": {"matchType": {"type": "string", "enum": ["BLAST_NO_MATCH"]}, "sequenceLength": {"type": "integer", "description": "Single /blast only"}}}),
        ),
        (
            "BlastMatch",
            json!({"type": "object", "description": "blast-ws Match (util.js simplyfyMatch)", "properties": {
                "name": {"type": "string", "description": "The reference's name (SH code, BIN or scientific name)"},
                "identity": {"type": "number", "description": "Percent"},
                "appliedScientificName": {"type": "string"},
                "matchType": {"type": "string", "enum": ["BLAST_EXACT_MATCH", "BLAST_AMBIGUOUS_MATCH", "BLAST_CLOSE_MATCH", "BLAST_WEAK_MATCH"], "description": "EXACT > 99, CLOSE > 90, else WEAK; AMBIGUOUS when another EXACT target lies within 1 point of an EXACT best"},
                "bitScore": {"type": "number", "description": "BLAST-scaled bit score (megablast scoring and statistics applied to our alignment)"},
                "expectValue": {"type": "number", "description": "Always 0"},
                "querySequence": {"type": "string"}, "subjectSequence": {"type": "string"},
                "qstart": {"type": "string"}, "qend": {"type": "string"}, "sstart": {"type": "string"}, "send": {"type": "string"},
                "qcovs": {"type": "number", "description": "Percent of the query covered"},
                "distanceToBestMatch": {"type": "number"},
                "accession": {"type": "string"},
                "alternatives": {"type": "array", "items": {"$ref": "#/components/schemas/BlastMatch"}},
                "sequenceLength": {"type": "integer", "description": "Single /blast only: length of the sanitised query"}}}),
        ),
        (
            "VsearchMatch",
            json!({"type": "object", "description": "sequence-search-ws Match (vsearch-parser): thresholds >= 99 / >= 90; AMBIGUOUS needs a different name", "properties": {
                "name": {"type": "string"}, "identity": {"type": "number"}, "appliedScientificName": {"type": "string"},
                "alignmentLength": {"type": "integer"}, "misMatches": {"type": "integer"}, "gapOpenings": {"type": "integer"},
                "matchType": {"type": "string"}, "bitScore": {"type": "number"}, "expectValue": {"type": "number"},
                "qstart": {"type": "integer"}, "qend": {"type": "integer"}, "sstart": {"type": "integer"}, "send": {"type": "integer"},
                "distanceToBestMatch": {"type": "number"}, "accession": {"type": "string"},
                "alignment": {"type": "string", "description": "vsearch alnout text (outformat alnout, the default)"},
                "alternatives": {"type": "array", "items": {"$ref": "#/components/schemas/VsearchMatch"}}}}),
        ),
        (
            "SequenceSearchRequest",
            json!({"type": "object", "properties": {
                "database": {"type": "string", "description": "Library name, with or without .udb (or a marker)"},
                "sequence": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
                "identity": {"type": "number", "description": "Minimum identity, percent (default 90)"},
                "outformat": {"type": "string", "enum": ["alnout", "blast6out", "blast6"]},
                "verbose": {"type": "boolean"}}}),
        ),
        (
            "Database",
            json!({"type": "object", "properties": {"db": {"type": "string"}, "name": {"type": "string"}, "marker": {"type": "string"},
                "version": {"type": "string", "nullable": true}, "title": {"type": "string", "nullable": true}, "licence": {"type": "string", "nullable": true},
                "sequences": {"type": "integer"}, "records": {"type": "integer"}}}),
        ),
        (
            "SearchRequest",
            json!({"type": "object", "properties": {
                "sequence": {"type": "string"}, "id": {"type": "string", "description": "Id of `sequence`"},
                "sequences": {"type": "array", "items": {"oneOf": [{"type": "string"}, {"type": "object", "properties": {"id": {"type": "string"}, "sequence": {"type": "string"}}}]}},
                "minIdentity": {"type": "number", "description": "Fraction or percent (default 0.97)"},
                "minCoverage": {"type": "number", "description": "Fraction or percent of the query (default 0.5)"},
                "maxHits": {"type": "integer", "description": "Sequence hits per query (default 100, at most 1000)"},
                "marker": {"type": "string"},
                "target": {"type": "string", "enum": ["references", "occurrences", "all"], "description": "Default all"},
                "strand": {"type": "string", "enum": ["both", "plus"]},
                "include": {"type": "array", "items": {"type": "string", "enum": ["alignment", "occurrences", "taxon"]}}}}),
        ),
        (
            "SearchResult",
            json!({"type": "object", "properties": {
                "id": {"type": "string"}, "status": {"type": "string", "enum": ["ok", "no_hits", "invalid"]}, "message": {"type": "string"},
                "sequence": {"type": "string", "nullable": true, "description": "GBIF-normalised query"}, "sequenceLength": {"type": "integer", "nullable": true, "description": "Null for an invalid query"},
                "nucleotideSequenceID": {"type": "string", "nullable": true},
                "queryAsGiven": {"type": "string", "description": "Only when GBIF's normaliser trimmed the query's ends or capped an N run: the query cleaned but whole, which reference barcodes are aligned to and every hit's qstart/qend refer to"},
                "exactMatch": {"type": "object", "nullable": true, "properties": {"nucleotideSequenceID": {"type": "string"}, "referenceCount": {"type": "integer"}, "occurrenceCount": {"type": "integer"}}},
                "totalHits": {"type": "integer"},
                "hits": {"type": "array", "items": {"$ref": "#/components/schemas/Hit"}},
                "taxon": {"$ref": "#/components/schemas/Assignment"}}}),
        ),
        (
            "Hit",
            json!({"type": "object", "properties": {
                "nucleotideSequenceID": {"type": "string"}, "identity": {"type": "number"}, "coverage": {"type": "number"},
                "alignmentLength": {"type": "integer"}, "mismatches": {"type": "integer"}, "gapOpens": {"type": "integer"},
                "qstart": {"type": "integer"}, "qend": {"type": "integer"}, "sstart": {"type": "integer"}, "send": {"type": "integer"},
                "strand": {"type": "string"}, "score": {"type": "integer"}, "targetLength": {"type": "integer"},
                "normalisedQuery": {"type": "boolean", "description": "Present (true) when the hit was aligned to the normalised query although queryAsGiven differs (occurrence targets, stored normalised): the alignment is on that form"},
                "referenceCount": {"type": "integer"}, "references": {"type": "array", "items": {"type": "object"}},
                "occurrenceCount": {"type": "integer"}, "occurrences": {"type": "array", "items": {"$ref": "#/components/schemas/Occurrence"}},
                "alignment": {"type": "object", "properties": {"cigar": {"type": "string"}, "query": {"type": "string"}, "midline": {"type": "string"}, "target": {"type": "string"}}}}}),
        ),
        (
            "Assignment",
            json!({"type": "object", "properties": {
                "matchType": {"type": "string"}, "bestIdentity": {"type": "number", "nullable": true}, "bestReference": {"type": "string", "nullable": true},
                "taxon": {"allOf": [{"$ref": "#/components/schemas/TaxonRef"}], "nullable": true, "description": "null when no reference hit gives a consensus"},
                "lineage": {"type": "array", "items": {"$ref": "#/components/schemas/TaxonRef"}},
                "hitsUsed": {"type": "integer"}, "distinctTaxa": {"type": "integer"}, "agreement": {"type": "number"}, "margin": {"type": "number"},
                "occurrenceCount": {"type": "integer", "nullable": true, "description": "Occurrences published under the consensus taxon's name"}}}),
        ),
        (
            "TaxonRef",
            json!({"type": "object", "properties": {"key": {"type": "integer"}, "name": {"type": "string"}, "rank": {"type": "string"}}}),
        ),
        (
            "Taxon",
            json!({"type": "object", "properties": {"key": {"type": "integer"}, "name": {"type": "string"}, "rank": {"type": "string"},
                "parentKey": {"type": "integer", "nullable": true}, "lineage": {"type": "array", "items": {"$ref": "#/components/schemas/TaxonRef"}},
                "occurrenceCount": {"type": "integer"}}}),
        ),
        (
            "Validation",
            json!({"type": "object", "description": "gbif-dna-core SequenceProcessor.Result", "properties": {
                "rawSequence": {"type": "string"}, "sequence": {"type": "string", "nullable": true}, "sequenceLength": {"type": "integer"},
                "nonIupacFraction": {"type": "number"}, "nonACGTNFraction": {"type": "number"}, "nFraction": {"type": "number"},
                "nRunsCapped": {"type": "integer"}, "gcContent": {"type": "number"}, "naturalLanguageDetected": {"type": "boolean"},
                "endsTrimmed": {"type": "boolean"}, "gapsOrWhitespaceRemoved": {"type": "boolean"},
                "nucleotideSequenceID": {"type": "string", "nullable": true}, "invalid": {"type": "boolean"}}}),
        ),
        ("Occurrence", occurrence_schema()),
        (
            "Reloaded",
            json!({"type": "object", "required": ["generation", "buildId"], "properties": {
                "generation": {"type": "integer"}, "buildId": {"type": "string"},
                "previousGeneration": {"type": "integer"}, "previousBuildId": {"type": "string"},
                "sequences": {"type": "integer"}, "referenceRecords": {"type": "integer"}, "occurrences": {"type": "integer"},
                "verified": {"type": "string", "enum": ["header", "full"]}, "millis": {"type": "integer"}}}),
        ),
        (
            "OccurrencePage",
            json!({"type": "object", "properties": {
                "offset": {"type": "integer"}, "limit": {"type": "integer"}, "endOfRecords": {"type": "boolean"}, "count": {"type": "integer"},
                "results": {"type": "array", "items": {"$ref": "#/components/schemas/Occurrence"}},
                "facets": {"type": "array", "items": {"type": "object", "properties": {"field": {"type": "string"}, "counts": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}, "count": {"type": "integer"}}}}}}},
                "query": {"type": "object", "description": "Sequence searches: the normalised query"},
                "taxon": {"$ref": "#/components/schemas/Assignment"}}}),
        ),
    ];
    let to_map = |v: Vec<(&str, Value)>| Value::Object(v.into_iter().map(|(k, v)| (k.to_string(), v)).collect());
    if let Some(o) = doc.as_object_mut() {
        o.insert("paths".into(), to_map(paths));
        o.insert(
            "components".into(),
            json!({"schemas": to_map(schemas),
                "securitySchemes": {"adminToken": {"type": "http", "scheme": "bearer", "description": "--admin-token-file or EDNA_ADMIN_TOKEN"}}}),
        );
    }
    doc
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_reference_resolves() {
        let doc = super::spec();
        let text = doc.to_string();
        for part in text.split("#/components/schemas/").skip(1) {
            let name: String = part.chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
            assert!(doc["components"]["schemas"][&name].is_object(), "{name}");
        }
    }
}
