#!/usr/bin/env python3
"""Distinct DNA sequences of a Darwin Core Archive's DNA-derived data extension, as FASTA.

Used to benchmark "ASVs against the occurrence sequences" with peers that read FASTA (vsearch, BLAST):
    benches/dwca_sequences.py ARCHIVE.zip|DIR OUT.fasta
Reads meta.xml, finds the extension whose rowType ends in DNADerivedData (the DNA_sequence column by its
term, or by the header row when there is one), and writes each distinct upper-cased sequence once
(first-seen order) as >occN.
"""
import csv
import io
import os
import sys
import xml.etree.ElementTree as ET
import zipfile

NS = "{http://rs.tdwg.org/dwc/text/}"


def open_member(archive, name):
    if os.path.isdir(archive):
        return open(os.path.join(archive, name), "rb")
    return zipfile.ZipFile(archive).open(name)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    archive, out = sys.argv[1], sys.argv[2]
    with open_member(archive, "meta.xml") as f:
        meta = ET.parse(f).getroot()
    ext = next((e for e in meta.iter(NS + "extension") if e.get("rowType", "").endswith("DNADerivedData")), None)
    if ext is None:
        sys.exit(f"{archive}: no DNA-derived data extension in meta.xml")
    location = ext.find(f"{NS}files/{NS}location").text.strip()
    column = next(
        (int(fl.get("index")) for fl in ext.iter(NS + "field") if fl.get("term", "").lower().endswith("/dna_sequence")),
        None,
    )
    delimiter = ext.get("fieldsTerminatedBy", "\\t").encode().decode("unicode_escape")
    skip = int(ext.get("ignoreHeaderLines", "0"))
    csv.field_size_limit(1 << 30)
    seen = {}
    with open_member(archive, location) as raw:
        rows = csv.reader(io.TextIOWrapper(raw, encoding="utf-8"), delimiter=delimiter, quoting=csv.QUOTE_NONE)
        for n, row in enumerate(rows):
            if n < skip:
                # Some archives number their fields from 1; a header naming the column settles it.
                names = [c.strip().lower() for c in row]
                if "dna_sequence" in names:
                    column = names.index("dna_sequence")
                continue
            if column is None:
                sys.exit(f"{archive}: the DNA-derived data extension has no DNA_sequence field")
            if column >= len(row):
                continue
            seq = row[column].strip().upper()
            if seq and seq not in seen:
                seen[seq] = len(seen) + 1
    with open(out, "w") as f:
        for seq, i in seen.items():
            f.write(f">occ{i}\n{seq}\n")
    print(f"{len(seen)} distinct sequences from {location}", file=sys.stderr)


if __name__ == "__main__":
    main()
