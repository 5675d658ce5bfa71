//! Cross-reference checks behind `Index::verify`: every id points inside its table, every offset table is
//! monotone and ends where its data ends, sorted sections are sorted, strings are UTF-8.

use crate::error::IndexError;
use crate::format::SectionKind as K;
use crate::reader::Index;
use crate::schema::*;

fn fail(index: &Index, detail: String) -> IndexError {
    IndexError::Corrupt {
        path: index.file().path().to_path_buf(),
        detail,
    }
}

fn check_offsets<T: Copy + Into<u64>>(
    index: &Index,
    name: &str,
    offsets: &[T],
    data_len: usize,
) -> Result<(), IndexError> {
    let mut prev = 0u64;
    for (i, &o) in offsets.iter().enumerate() {
        let o: u64 = o.into();
        if o < prev {
            return Err(fail(index, format!("{name}: offset {i} goes backwards")));
        }
        prev = o;
    }
    if offsets.first().map(|&o| o.into()) != Some(0) || prev != data_len as u64 {
        return Err(fail(
            index,
            format!("{name}: offsets do not span the data ({prev} vs {data_len})"),
        ));
    }
    Ok(())
}

fn check_ids(index: &Index, name: &str, ids: &[u32], bound: usize, allow_none: bool) -> Result<(), IndexError> {
    if let Some((i, &id)) = ids
        .iter()
        .enumerate()
        .find(|(_, &id)| !((id as usize) < bound || (allow_none && id == NONE)))
    {
        return Err(fail(
            index,
            format!("{name}: element {i} refers to {id}, beyond {bound}"),
        ));
    }
    Ok(())
}

fn check_str(index: &Index, name: &str, s: StrRef) -> Result<(), IndexError> {
    let heap = index.b(K::Strings);
    let ok = heap
        .get(s.offset as usize..(s.offset as usize).saturating_add(s.len as usize))
        .is_some_and(|b| std::str::from_utf8(b).is_ok());
    if !ok {
        return Err(fail(
            index,
            format!("{name}: string {}+{} is outside the heap or not UTF-8", s.offset, s.len),
        ));
    }
    Ok(())
}

pub(crate) fn cross_references(index: &Index) -> Result<(), IndexError> {
    let meta = index.meta();
    let n_seqs = index.n_seqs() as usize;
    let md5: &[[u8; 16]] = index.s(K::SeqMd5);
    let by_md5: &[u32] = index.s(K::SeqByMd5);
    // A permutation of the ids whose digests strictly ascend (so digests are also distinct).
    if by_md5.iter().any(|&id| id as usize >= n_seqs) {
        return Err(fail(index, "SeqByMd5 holds an id past the sequences".into()));
    }
    if by_md5.windows(2).any(|w| md5[w[0] as usize] >= md5[w[1] as usize]) {
        return Err(fail(index, "SeqByMd5 is not in strictly ascending digest order".into()));
    }
    let entries: &[SeqEntry] = index.s(K::SeqEntries);
    let packed_len = index.b(K::SeqPacked).len() as u64;
    let n_exc = index.s::<Exception>(K::SeqExceptions).len();
    for (i, w) in entries.windows(2).enumerate() {
        let (e, next) = (w[0], w[1]);
        let end = e.packed_offset.checked_add((e.len as u64).div_ceil(4));
        if end.is_none_or(|end| end > packed_len) || e.exc_start > next.exc_start {
            return Err(fail(
                index,
                format!("SeqEntries: sequence {i} lies outside the packed store"),
            ));
        }
    }
    if entries.last().is_some_and(|e| e.exc_start as usize != n_exc) {
        return Err(fail(
            index,
            "SeqEntries: exception ranges do not end at the exception table".into(),
        ));
    }
    let legacy: &[LegacyEntry] = index.s(K::LegacyIds);
    if legacy.windows(2).any(|w| (w[0].md5, w[0].seq) > (w[1].md5, w[1].seq)) {
        return Err(fail(index, "LegacyIds is not sorted".into()));
    }
    check_ids(
        index,
        "LegacyIds",
        &legacy.iter().map(|e| e.seq).collect::<Vec<_>>(),
        n_seqs,
        true,
    )?;

    let refs: &[RefEntry] = index.s(K::Refs);
    let occs: &[OccEntry] = index.s(K::Occurrences);
    let n_occ = occs.len().saturating_sub(1);
    let ref_ids: &[u32] = index.s(K::SeqRefIds);
    check_offsets(index, "SeqRefOffsets", index.s::<u32>(K::SeqRefOffsets), ref_ids.len())?;
    check_ids(index, "SeqRefIds", ref_ids, refs.len(), false)?;
    let occ_ids: &[u32] = index.s(K::SeqOccIds);
    check_offsets(index, "SeqOccOffsets", index.s::<u32>(K::SeqOccOffsets), occ_ids.len())?;
    check_ids(index, "SeqOccIds", occ_ids, n_occ, false)?;

    let taxa: &[TaxonEntry] = index.s(K::Taxa);
    for (i, r) in refs.iter().enumerate() {
        if r.seq as usize >= n_seqs
            || (r.taxon != NONE && r.taxon as usize >= taxa.len())
            || r.library as usize >= meta.libraries.len()
        {
            return Err(fail(index, format!("Refs: record {i} refers outside its tables")));
        }
        for s in [r.id, r.name, r.accession] {
            check_str(index, "Refs", s)?;
        }
    }
    for (i, t) in taxa.iter().enumerate() {
        if t.parent != NONE && t.parent as usize >= i {
            return Err(fail(
                index,
                format!("Taxa: taxon {i} has parent {} that does not precede it", t.parent),
            ));
        }
        check_str(index, "Taxa", t.rank)?;
        check_str(index, "Taxa", t.name)?;
    }
    let by_name: &[u32] = index.s(K::TaxaByName);
    check_ids(index, "TaxaByName", by_name, taxa.len(), false)?;

    let events: &[OccEvent] = index.s(K::OccEvents);
    for (i, e) in events.iter().enumerate() {
        if e.dataset as usize >= meta.datasets.len() {
            return Err(fail(index, format!("OccEvents: event {i} refers outside its tables")));
        }
        for s in e.strings() {
            check_str(index, "OccEvents", s)?;
        }
    }
    let names: &[OccName] = index.s(K::OccNames);
    for (i, n) in names.iter().enumerate() {
        if n.published_taxon != NONE && n.published_taxon as usize >= taxa.len() {
            return Err(fail(index, format!("OccNames: name {i} refers outside its tables")));
        }
        check_str(index, "OccNames", n.scientific_name)?;
        check_str(index, "OccNames", n.taxon_rank)?;
    }
    let assays: &[OccAssay] = index.s(K::OccAssays);
    for a in assays {
        for s in a.strings() {
            check_str(index, "OccAssays", s)?;
        }
    }
    let dna: &[OccDna] = index.s(K::OccDna);
    let ids = index.b(K::OccIds);
    if occs.first().is_some_and(|o| o.dna_start != 0 || o.id_start != 0) {
        return Err(fail(
            index,
            "Occurrences: the first occurrence does not start its tables".into(),
        ));
    }
    for (i, w) in occs.windows(2).enumerate() {
        let o = &w[0];
        if o.event as usize >= events.len()
            || o.name as usize >= names.len()
            || o.dna_start > w[1].dna_start
            || o.id_start > w[1].id_start
        {
            return Err(fail(
                index,
                format!("Occurrences: occurrence {i} refers outside its tables"),
            ));
        }
        let id = usize::try_from(o.id_start)
            .ok()
            .zip(usize::try_from(w[1].id_start).ok())
            .and_then(|(a, b)| ids.get(a..b));
        if id.is_none_or(|b| std::str::from_utf8(b).is_err()) {
            return Err(fail(
                index,
                format!("Occurrences: occurrence {i} has an occurrenceID outside OccIds or not UTF-8"),
            ));
        }
    }
    if occs
        .last()
        .is_some_and(|o| o.dna_start as usize != dna.len() || o.id_start != ids.len() as u64)
    {
        return Err(fail(
            index,
            "Occurrences: DNA or id ranges do not end at their tables".into(),
        ));
    }
    for (i, d) in dna.iter().enumerate() {
        if (d.seq != NONE && d.seq as usize >= n_seqs)
            || (d.marker != NONE && d.marker as usize >= meta.markers.len())
            || d.assay as usize >= assays.len()
            || (d.assigned_taxon != NONE && d.assigned_taxon as usize >= taxa.len())
            || (d.legacy != NONE && legacy.get(d.legacy as usize).is_none_or(|l| l.seq != d.seq))
        {
            return Err(fail(index, format!("OccDna: row {i} refers outside its tables")));
        }
    }
    if let Some(spans) = &meta.marker_spans {
        for (marker, s) in spans {
            for list in [&s.references, &s.occurrences] {
                if list.iter().any(|r| r[0] >= r[1] || r[1] as usize > n_seqs)
                    || list.windows(2).any(|w| w[0][1] >= w[1][0])
                {
                    return Err(fail(
                        index,
                        format!("marker_spans: {marker}: ranges not sorted, disjoint and inside the sequences"),
                    ));
                }
            }
        }
        let covered = |marker: &str, occurrence: bool, seq: u32| {
            spans.get(marker).is_some_and(|s| {
                let list = if occurrence { &s.occurrences } else { &s.references };
                let i = list.partition_point(|r| r[1] <= seq);
                list.get(i).is_some_and(|r| r[0] <= seq)
            })
        };
        for (i, r) in refs.iter().enumerate() {
            let marker = meta.libraries.get(r.library as usize).map_or("", |l| l.marker.as_str());
            if !covered(marker, false, r.seq) {
                return Err(fail(
                    index,
                    format!(
                        "marker_spans: reference record {i} (sequence {}) lies outside the spans of {marker}",
                        r.seq
                    ),
                ));
            }
        }
        for (i, d) in dna.iter().enumerate() {
            let Some(marker) = meta.markers.get(d.marker as usize) else {
                continue;
            };
            if d.seq != NONE && !covered(marker, true, d.seq) {
                return Err(fail(
                    index,
                    format!(
                        "marker_spans: DNA row {i} (sequence {}) lies outside the spans of {marker}",
                        d.seq
                    ),
                ));
            }
        }
    }

    let keys: &[u32] = index.s(K::KmerKeys);
    if keys.windows(2).any(|w| w[0] >= w[1]) {
        return Err(fail(index, "KmerKeys is not strictly ascending".into()));
    }
    let postings: &[u32] = index.s(K::KmerPostings);
    check_offsets(index, "KmerOffsets", index.s::<u32>(K::KmerOffsets), postings.len())?;
    check_ids(index, "KmerPostings", postings, n_seqs, false)?;
    if index.s::<u16>(K::KmerPositions).len() != postings.len() {
        return Err(fail(index, "KmerPositions is not parallel to KmerPostings".into()));
    }
    let buckets: &[u32] = index.s(K::KmerBuckets);
    check_offsets(index, "KmerBuckets", buckets, keys.len())?;
    let shift = 2 * meta.seeds.k - meta.seeds.bucket_bits;
    for (b, w) in buckets.windows(2).enumerate() {
        if keys
            .get(w[0] as usize..w[1] as usize)
            .is_some_and(|ks| ks.iter().any(|&k| (k >> shift) as usize != b))
        {
            return Err(fail(index, format!("KmerBuckets: bucket {b} holds foreign keys")));
        }
    }

    for (name, off_kind, data_kind, count) in [
        ("taxon bitmaps", K::TaxonBitmapOffsets, K::TaxonBitmapData, taxa.len()),
        (
            "assigned taxon bitmaps",
            K::AssignedTaxonBitmapOffsets,
            K::AssignedTaxonBitmapData,
            taxa.len(),
        ),
        (
            "dataset bitmaps",
            K::DatasetBitmapOffsets,
            K::DatasetBitmapData,
            meta.datasets.len(),
        ),
        (
            "marker bitmaps",
            K::MarkerBitmapOffsets,
            K::MarkerBitmapData,
            meta.markers.len(),
        ),
    ] {
        let offsets: &[u64] = index.s(off_kind);
        let data = index.b(data_kind);
        check_offsets(index, name, offsets, data.len())?;
        for i in 0..count {
            let (a, b) = (offsets[i] as usize, offsets[i + 1] as usize);
            if a == b {
                continue;
            }
            let bm = roaring::RoaringBitmap::deserialize_from(&data[a..b])
                .map_err(|e| fail(index, format!("{name}: bitmap {i} is unreadable: {e}")))?;
            if bm.max().is_some_and(|m| m as usize >= n_occ) {
                return Err(fail(
                    index,
                    format!("{name}: bitmap {i} names an occurrence beyond {n_occ}"),
                ));
            }
        }
    }
    if meta.sequences as usize != n_seqs
        || meta.reference_sequences as usize != refs.len()
        || meta.occurrences as usize != n_occ
    {
        return Err(fail(index, "metadata counts disagree with the sections".into()));
    }
    Ok(())
}
