#!/usr/bin/env python3
"""Numbers the records of a FASTA file in place when their labels (the header up to the first space, which
vsearch, BLAST and edna-search all report) are not unique, keeping the old header after the new label:
`>PREFIX1 old header`. UNITE's headers are taxonomy strings, shared by many records, so hits could not be
matched between tools by label. A file whose labels are unique is left as it is.

Usage: unique_labels.py FILE PREFIX
"""
import sys


def main(path, prefix):
    with open(path) as f:
        lines = f.read().splitlines()
    labels = [l[1:].split(None, 1)[0] if len(l) > 1 else "" for l in lines if l.startswith(">")]
    if len(set(labels)) == len(labels):
        return
    n = 0
    with open(path, "w") as out:
        for line in lines:
            if line.startswith(">"):
                n += 1
                line = f">{prefix}{n} {line[1:]}"
            out.write(line + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
